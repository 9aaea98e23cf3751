// A QTcpServer that applies admission control as connections are accepted:
// a refused connection gets a short HTTP 429 answer and is closed before Qt
// makes a socket object for it. A connection accepted while the node has
// `maxHeld` connections open gets 503 and is closed at once. QTcpServer
// accepts all that waits in the kernel's queue in one go, even once
// accepting has been paused, so a burst could otherwise run the process
// out of descriptors.
//
// An admitted connection stays a bare descriptor: the witness hub reads its
// first request and serves a WebSocket upgrade itself. Any other request is
// handed back with handOver(), which wraps the descriptor in a QTcpSocket
// for Qt HttpServer. Either way the connection's place in its address's
// count, and in the node's held connections, is released exactly once: by
// the hub, or by the socket when it disconnects or is destroyed.
#pragma once

#include "connections/admission.h"
#include "status/nodestatus.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

#include <functional>

namespace collective {

// Gives back an admitted connection's place in its address's count and in
// the node's held connections. Called once per connection, when its
// descriptor is closed.
void releaseAdmitted(Admission *admission, NodeStatus *status, quint64 admissionKey);

class AdmittingTcpServer final : public QTcpServer
{
    Q_OBJECT

public:
    // Releases an admitted connection's place; safe to call more than once.
    using Release = std::function<void()>;

    // `accepted` receives every admitted descriptor with its admission key.
    AdmittingTcpServer(Admission *admission, NodeStatus *status, qint64 maxHeld,
                       std::function<void(int, quint64)> accepted, QObject *parent = nullptr);

    // Wraps an admitted descriptor, whose first request is still unread in
    // the kernel, in a QTcpSocket and queues it for the HTTP server. Returns
    // the socket, or nullptr when the descriptor is no longer usable (it is
    // then closed and released).
    QTcpSocket *handOver(int descriptor, quint64 admissionKey);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    Admission *m_admission;
    NodeStatus *m_status;
    qint64 m_maxHeld;
    std::function<void(int, quint64)> m_accepted;
};

} // namespace collective
