// One non-blocking hiredis connection on the Qt event loop.
//
// hiredis 0.14 (Debian 12) has no timeouts for asynchronous commands and a
// context cannot be reused after a disconnect. So this class watches every
// command with a timer, treats a silent server as lost, and reconnects with
// a fresh context after an exponential backoff (250 ms doubling to 5 s),
// for ever, until close() is called.
//
// It carries its own event adapter instead of hiredis's adapters/qt.h: that
// header connects with Qt 5's string signal `activated(int)`, which Qt 6's
// QSocketNotifier no longer has, and uses the `slots` keyword, which this
// project turns off.
#pragma once

#include "config/redisendpoint.h"

#include <QByteArrayList>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QObject>
#include <QSocketNotifier>
#include <QTimer>

#include <functional>
#include <memory>

struct redisAsyncContext;
struct redisReply;

namespace collective {

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

class RedisConnection : public QObject
{
    Q_OBJECT

public:
    // Receives a reply, or nullptr with an error when the command failed or
    // the connection was lost before the reply came. The reply is freed by
    // hiredis after the handler returns.
    using ReplyHandler = std::function<void(const redisReply *reply, const QString &error)>;

    RedisConnection(const RedisEndpoint &endpoint, const QString &name, int commandTimeoutMs,
                    QObject *parent = nullptr);
    ~RedisConnection() override;

    // Starts connecting; reconnects after every loss until close().
    void open();
    void close();

    // Gives up on the current connection as if it had been lost, and
    // reconnects after the backoff. For callers that see a reply overdue.
    void abandon(const QString &reason) { drop(reason); }

    // Where the next connect goes; the current connection, if any, stays.
    void setEndpoint(const RedisEndpoint &endpoint) { m_endpoint = endpoint; }

    bool isReady() const { return m_ready; }
    QString lastError() const { return m_lastError; }

    // Sends a command. Returns false (and never calls the handler) when the
    // connection is not ready. A persistent handler stays registered for
    // every reply, as SUBSCRIBE needs.
    bool command(const QByteArrayList &arguments, ReplyHandler handler, bool persistent = false);

Q_SIGNALS:
    // The connection is up and authenticated, with its database selected.
    void ready();
    // The connection was lost or could not be made; a reconnect is scheduled.
    void lost(const QString &reason);

private:
    struct Pending;
    class EventAdapter;

    void connectNow();
    void handleConnected(int status);
    void handleDisconnected(int status);
    void prepareSession();
    void drop(const QString &reason);
    void checkWatchdog();

    static void onConnect(const redisAsyncContext *context, int status);
    static void onDisconnect(const redisAsyncContext *context, int status);
    static void onReply(redisAsyncContext *context, void *reply, void *privateData);

    RedisEndpoint m_endpoint;
    const QString m_name;
    const int m_commandTimeoutMs;

    redisAsyncContext *m_context = nullptr;
    std::unique_ptr<EventAdapter> m_adapter;
    bool m_open = false;
    bool m_ready = false;
    bool m_freeing = false;
    QString m_lastError;

    QTimer m_reconnectTimer;
    QTimer m_watchdog;
    int m_backoffMs = 0;
    qint64 m_connectStartedMs = 0;
    QElapsedTimer m_clock;
    int m_outstanding = 0;        // commands sent and not answered, persistent ones aside
    qint64 m_waitingSinceMs = 0;  // the last reply, or the send that ended an idle spell
};

} // namespace collective
