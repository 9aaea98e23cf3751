// A hiredis asynchronous context driven by Qt socket notifiers, with a
// watchdog and reconnects (see redisconnection.h).
#include "store/redis/redisconnection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <vector>

namespace collective {

Q_LOGGING_CATEGORY(lcRedis, "collective.store.redis")

namespace {

constexpr int firstBackoffMs = 250;
constexpr int maxBackoffMs = 5000;

} // namespace

// Maps hiredis's add/remove read/write hooks to QSocketNotifiers. hiredis
// may drop a context from inside a read handler, so notifiers are retired
// with deleteLater(), never deleted during their own signal.
class RedisConnection::EventAdapter
{
public:
    explicit EventAdapter(redisAsyncContext *context) : m_context(context)
    {
        context->ev.data = this;
        // After detach() hiredis still calls these with a null pointer.
        context->ev.addRead = [](void *self) { call(self, &EventAdapter::enable, QSocketNotifier::Read); };
        context->ev.delRead = [](void *self) { call(self, &EventAdapter::disable, QSocketNotifier::Read); };
        context->ev.addWrite = [](void *self) { call(self, &EventAdapter::enable, QSocketNotifier::Write); };
        context->ev.delWrite = [](void *self) { call(self, &EventAdapter::disable, QSocketNotifier::Write); };
        context->ev.cleanup = [](void *self) {
            if (self)
                static_cast<EventAdapter *>(self)->detach();
        };
    }

    ~EventAdapter() { detach(); }

    // Forgets the context and retires both notifiers.
    void detach()
    {
        if (m_context)
            m_context->ev.data = nullptr;
        m_context = nullptr;
        retire(m_read);
        retire(m_write);
    }

private:
    static void call(void *self, void (EventAdapter::*method)(QSocketNotifier::Type), QSocketNotifier::Type type)
    {
        if (self)
            (static_cast<EventAdapter *>(self)->*method)(type);
    }

    static void retire(QSocketNotifier *&notifier)
    {
        if (!notifier)
            return;
        notifier->setEnabled(false);
        QObject::disconnect(notifier, nullptr, nullptr, nullptr);
        notifier->deleteLater();
        notifier = nullptr;
    }

    void enable(QSocketNotifier::Type type)
    {
        QSocketNotifier *&notifier = type == QSocketNotifier::Read ? m_read : m_write;
        if (notifier) {
            notifier->setEnabled(true);
            return;
        }
        notifier = new QSocketNotifier(m_context->c.fd, type);
        QObject::connect(notifier, &QSocketNotifier::activated, notifier, [this, type] {
            if (!m_context)
                return;
            if (type == QSocketNotifier::Read)
                redisAsyncHandleRead(m_context);
            else
                redisAsyncHandleWrite(m_context);
        });
    }

    void disable(QSocketNotifier::Type type)
    {
        QSocketNotifier *notifier = type == QSocketNotifier::Read ? m_read : m_write;
        if (notifier)
            notifier->setEnabled(false);
    }

    redisAsyncContext *m_context;
    QSocketNotifier *m_read = nullptr;
    QSocketNotifier *m_write = nullptr;
};

struct RedisConnection::Pending
{
    RedisConnection *connection;
    ReplyHandler handler;
    bool persistent;
};

RedisConnection::RedisConnection(const RedisEndpoint &endpoint, const QString &name, int commandTimeoutMs,
                                 QObject *parent)
    : QObject(parent), m_endpoint(endpoint), m_name(name), m_commandTimeoutMs(commandTimeoutMs)
{
    m_clock.start();
    m_reconnectTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &RedisConnection::connectNow);
    m_watchdog.setInterval(qMax(100, commandTimeoutMs / 4));
    connect(&m_watchdog, &QTimer::timeout, this, &RedisConnection::checkWatchdog);
}

RedisConnection::~RedisConnection()
{
    close();
}

void RedisConnection::open()
{
    m_open = true;
    m_watchdog.start();
    connectNow();
}

void RedisConnection::close()
{
    m_open = false;
    m_reconnectTimer.stop();
    m_watchdog.stop();
    drop(QStringLiteral("the connection was closed"));
}

void RedisConnection::connectNow()
{
    if (!m_open || m_context)
        return;

    // NOTE: hiredis resolves a host name with a blocking getaddrinfo() here;
    // an IP address or a local name keeps this instant.
    redisAsyncContext *context = m_endpoint.socketPath.isEmpty()
            ? redisAsyncConnect(m_endpoint.host.toUtf8().constData(), m_endpoint.port)
            : redisAsyncConnectUnix(m_endpoint.socketPath.toUtf8().constData());
    if (!context || context->err) {
        const QString reason = context ? QString::fromUtf8(context->errstr) : QStringLiteral("out of memory");
        if (context)
            redisAsyncFree(context);
        drop(reason);
        return;
    }

    m_context = context;
    context->data = this;
    m_adapter = std::make_unique<EventAdapter>(context);
    redisAsyncSetConnectCallback(context, &RedisConnection::onConnect);
    redisAsyncSetDisconnectCallback(context, &RedisConnection::onDisconnect);
    m_connectStartedMs = m_clock.elapsed();
}

void RedisConnection::onConnect(const redisAsyncContext *context, int status)
{
    if (auto *self = static_cast<RedisConnection *>(context->data))
        self->handleConnected(status);
}

void RedisConnection::onDisconnect(const redisAsyncContext *context, int status)
{
    if (auto *self = static_cast<RedisConnection *>(context->data))
        self->handleDisconnected(status);
}

void RedisConnection::handleConnected(int status)
{
    if (status != REDIS_OK) {
        // hiredis frees the context itself after a failed connect, and
        // detaches the adapter through its cleanup hook.
        const QString reason = QString::fromUtf8(m_context->errstr);
        m_context->data = nullptr;
        m_context = nullptr;
        drop(reason);
        return;
    }
    prepareSession();
}

void RedisConnection::prepareSession()
{
    // AUTH and SELECT run before the connection counts as ready; their replies
    // arrive in order, so the last one decides.
    std::vector<QByteArrayList> setup;
    if (!m_endpoint.password.isEmpty())
        setup.push_back({QByteArrayLiteral("AUTH"), m_endpoint.password.toUtf8()});
    if (m_endpoint.database != 0)
        setup.push_back({QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.database)});
    setup.push_back({QByteArrayLiteral("PING")});

    auto failed = std::make_shared<bool>(false);
    for (std::size_t i = 0; i < setup.size(); ++i) {
        const bool last = i + 1 == setup.size();
        const QByteArray verb = setup[i].first();
        m_ready = true; // lets command() send the setup; cleared again below
        command(setup[i], [this, failed, last, verb](const redisReply *reply, const QString &error) {
            if (*failed)
                return;
            if (!reply || reply->type == REDIS_REPLY_ERROR) {
                *failed = true;
                const QString reason = reply ? QString::fromUtf8(reply->str, int(reply->len)) : error;
                drop(QStringLiteral("%1 failed: %2").arg(QString::fromLatin1(verb), reason));
                return;
            }
            if (last) {
                m_ready = true;
                m_backoffMs = 0;
                m_lastError.clear();
                qCDebug(lcRedis, "Redis connection %s to %s is ready.", qPrintable(m_name),
                        qPrintable(m_endpoint.describe()));
                Q_EMIT ready();
            }
        });
        m_ready = false;
    }
}

void RedisConnection::handleDisconnected(int status)
{
    // hiredis frees the context after this callback returns, and detaches
    // the adapter through its cleanup hook.
    if (m_context) {
        m_context->data = nullptr;
        m_context = nullptr;
    }
    if (m_freeing)
        return;
    drop(status == REDIS_OK ? QStringLiteral("the server closed the connection")
                            : QStringLiteral("the connection failed"));
}

bool RedisConnection::command(const QByteArrayList &arguments, ReplyHandler handler, bool persistent)
{
    if (!m_ready || !m_context)
        return false;

    std::vector<const char *> argv;
    std::vector<size_t> lengths;
    for (const QByteArray &argument : arguments) {
        argv.push_back(argument.constData());
        lengths.push_back(size_t(argument.size()));
    }

    auto *pending = new Pending{this, std::move(handler), persistent};
    if (redisAsyncCommandArgv(m_context, &RedisConnection::onReply, pending, int(argv.size()), argv.data(),
                              lengths.data())
        != REDIS_OK) {
        delete pending;
        return false;
    }
    if (!persistent) {
        if (m_outstanding == 0)
            m_waitingSinceMs = m_clock.elapsed();
        ++m_outstanding;
    }
    return true;
}

void RedisConnection::onReply(redisAsyncContext *context, void *reply, void *privateData)
{
    Q_UNUSED(context);
    auto *pending = static_cast<Pending *>(privateData);
    RedisConnection *self = pending->connection;
    const auto *redis = static_cast<const redisReply *>(reply);

    if (!pending->persistent && self->m_outstanding > 0) {
        --self->m_outstanding;
        self->m_waitingSinceMs = self->m_clock.elapsed();
    }

    // A null reply means the context is going away: every pending handler
    // hears it once, then its record is freed.
    const QString error = redis ? QString() : QStringLiteral("the connection was lost before the reply");
    pending->handler(redis, error);
    if (!redis || !pending->persistent)
        delete pending;
}

void RedisConnection::drop(const QString &reason)
{
    // Handlers that hear of the loss while the context is freed land here
    // again; the first call does the work.
    if (m_freeing)
        return;
    const bool wasReady = m_ready;
    m_ready = false;
    m_outstanding = 0;
    m_lastError = reason;

    if (m_context) {
        // Freeing calls every pending handler with a null reply first.
        m_freeing = true;
        redisAsyncContext *context = m_context;
        m_context = nullptr;
        context->data = nullptr;
        redisAsyncFree(context);
        m_freeing = false;
        m_adapter.reset();
    }

    if (!m_open)
        return;
    m_backoffMs = m_backoffMs == 0 ? firstBackoffMs : qMin(maxBackoffMs, m_backoffMs * 2);
    m_reconnectTimer.start(m_backoffMs);
    if (wasReady || m_backoffMs == firstBackoffMs)
        Q_EMIT lost(reason);
}

void RedisConnection::checkWatchdog()
{
    const qint64 now = m_clock.elapsed();
    if (m_context && !m_ready && now - m_connectStartedMs > m_commandTimeoutMs) {
        drop(QStringLiteral("no connection within %1 ms").arg(m_commandTimeoutMs));
        return;
    }
    if (m_ready && m_outstanding > 0 && now - m_waitingSinceMs > m_commandTimeoutMs)
        drop(QStringLiteral("no reply within %1 ms").arg(m_commandTimeoutMs));
}

} // namespace collective
