// The connection layer: the socket threads and their hubs, seen from the
// main thread. It opens one listening socket per thread on the same port
// (SO_REUSEPORT), hands broadcasts to every hub, and tells the main thread
// when the number of witnesses changed.
//
// A broadcast is encoded and framed once on the main thread; every hub
// writes those same bytes to its sockets. Broadcasts made close together
// (a tick and the milestone it unlocked) reach each witness in one write.
#pragma once

#include "connections/witnesshub.h"

#include <QHostAddress>
#include <QObject>
#include <QThread>

#include <atomic>
#include <memory>
#include <vector>

namespace collective {

// An encoded Phoenix frame for every witness, and the board version it was
// built from: a witness whose welcome showed that version or a newer one
// already has its content and does not get it.
struct Broadcast
{
    QByteArray frame;
    quint64 version = 0;
};

class ConnectionLayer : public QObject
{
    Q_OBJECT

public:
    ConnectionLayer(int threads, const HubSettings &settings, const AdmissionLimits &limits, NodeStatus *status,
                    const protocol::Catalogue &catalogue, WitnessHub::RouteInstaller installRoutes,
                    QObject *parent = nullptr);
    ~ConnectionLayer() override;

    // Opens the listening sockets and starts the socket threads. Returns false
    // with *error when the address or port cannot be used.
    // Unless sharePort is set, a port another process already listens on is
    // an error rather than a shared port.
    bool listen(const QHostAddress &address, quint16 port, bool sharePort, QString *error);

    // The port actually listened on (differs from the requested one for 0).
    quint16 port() const { return m_port; }

    // Sends encoded frames to every joined witness on every thread, each
    // frame to those whose welcome showed a board version older than the
    // frame's. Frames given in one call reach each witness in one write, in
    // their order.
    void broadcast(const QList<Broadcast> &broadcasts);

    // Closes every socket with `code`, spread over windowMs (see
    // WitnessHub::closeAll), waits at most windowMs + graceMs for the close
    // handshakes, then stops the threads. The main loop keeps running
    // meanwhile, so count changes still reach Chronos.
    void shutdown(protocol::CloseCode code, const QString &reason, int windowMs, int graceMs);

Q_SIGNALS:
    // This node's joined witnesses changed; several changes may be folded into
    // one signal, which always carries the latest count.
    void witnessCountChanged(qint64 count);

private:
    // Called from any socket thread; posts at most one pending notification.
    void notifyWitnessCountChanged();

    struct Worker
    {
        std::unique_ptr<QThread> thread;
        WitnessHub *hub = nullptr; // deleted in its own thread when it finishes
    };

    const int m_threadCount;
    const HubSettings m_settings;
    NodeStatus *m_status;
    const protocol::Catalogue &m_catalogue;
    WitnessHub::RouteInstaller m_installRoutes;
    std::vector<Worker> m_workers;
    Admission m_admission;
    QTimer m_admissionPurge;
    quint16 m_port = 0;
    std::atomic<bool> m_countNotificationPending{false};
};

} // namespace collective
