// Admission at accept time (see admittingserver.h).
#include "connections/admittingserver.h"

#include "websocket/handshake.h"

#include <memory>

#include <sys/socket.h>
#include <unistd.h>

namespace collective {

namespace {

// The client has not sent its request yet, so a response written now comes
// before anything it reads, and a WebSocket client reports its status.
void respondAndClose(qintptr descriptor, const QByteArray &response)
{
    [[maybe_unused]] const auto sent =
            ::send(int(descriptor), response.constData(), size_t(response.size()), MSG_NOSIGNAL);
    ::shutdown(int(descriptor), SHUT_WR);
    ::close(int(descriptor));
}

void refuse(qintptr descriptor, Admission::Verdict verdict)
{
    const QByteArray body = verdict == Admission::Verdict::TooManyOpen
            ? QByteArrayLiteral("Too many connections from your address.\n")
            : QByteArrayLiteral("Too many new connections from your address; retry in a minute.\n");
    respondAndClose(descriptor, websocket::plainResponse(429, body, "Retry-After: 60\r\n"));
}

// A QTcpSocket that writes straight to the kernel while nothing waits in
// Qt's write buffer. Stock QAbstractSocket appends every write to its buffer
// first, and that buffer allocates a 32 KiB block on the first write and
// keeps it for the socket's lifetime. Only
// what the kernel does not take (a peer that stopped reading) is buffered,
// so bytesToWrite() still measures a slow peer's backlog. Measured with
// heaptrack when witnesses were QWebSockets on these sockets: an idle
// witness cost 12 KB of RSS instead of 20.5 KB.
//
// NOTE: bytes sent this way emit no bytesWritten(); nothing in the server
// listens to it.
class DirectWriteSocket final : public QTcpSocket
{
public:
    using QTcpSocket::QTcpSocket;

protected:
    qint64 writeData(const char *data, qint64 size) override
    {
        if (size > 0 && bytesToWrite() == 0 && state() == ConnectedState) {
            const ssize_t sent = ::send(int(socketDescriptor()), data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent == size)
                return size;
            if (sent > 0) {
                const qint64 rest = QTcpSocket::writeData(data + sent, size - sent);
                return rest < 0 ? qint64(sent) : qint64(sent) + rest;
            }
            // EAGAIN or an error: Qt buffers it and reports errors its own way.
        }
        return QTcpSocket::writeData(data, size);
    }
};

QHostAddress peerAddressOf(qintptr descriptor)
{
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getpeername(int(descriptor), reinterpret_cast<sockaddr *>(&storage), &length) != 0)
        return QHostAddress();
    return QHostAddress(reinterpret_cast<const sockaddr *>(&storage));
}

} // namespace

void releaseAdmitted(Admission *admission, NodeStatus *status, quint64 admissionKey)
{
    admission->release(admissionKey);
    status->heldConnections.fetch_sub(1, std::memory_order_relaxed);
}

AdmittingTcpServer::AdmittingTcpServer(Admission *admission, NodeStatus *status, qint64 maxHeld,
                                       std::function<void(int, quint64)> accepted, QObject *parent)
    : QTcpServer(parent), m_admission(admission), m_status(status), m_maxHeld(maxHeld), m_accepted(std::move(accepted))
{
}

void AdmittingTcpServer::incomingConnection(qintptr descriptor)
{
    if (m_status->heldConnections.load(std::memory_order_relaxed) >= m_maxHeld) {
        m_status->metrics.refusedHeldLimit.fetch_add(1, std::memory_order_relaxed);
        respondAndClose(descriptor, websocket::plainResponse(503, "This server has all the connections it can take; "
                                                                  "retry in a few seconds.\n",
                                                             "Retry-After: 5\r\n"));
        return;
    }

    const QHostAddress address = peerAddressOf(descriptor);
    const Admission::Verdict verdict = m_admission->admit(address, m_status->clock()->nowMs());
    if (verdict != Admission::Verdict::Admitted) {
        auto &counter = verdict == Admission::Verdict::TooManyOpen ? m_status->metrics.refusedTooManyOpen
                                                                   : m_status->metrics.refusedTooManyNew;
        counter.fetch_add(1, std::memory_order_relaxed);
        refuse(descriptor, verdict);
        return;
    }
    // Counted until the descriptor closes, wherever its admission is released.
    m_status->heldConnections.fetch_add(1, std::memory_order_relaxed);
    m_accepted(int(descriptor), m_admission->keyOf(address));
}

QTcpSocket *AdmittingTcpServer::handOver(int descriptor, quint64 admissionKey)
{
    auto *socket = new DirectWriteSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        releaseAdmitted(m_admission, m_status, admissionKey);
        ::close(descriptor);
        delete socket;
        return nullptr;
    }

    // Released once, by whichever of its holders comes first.
    auto released = std::make_shared<bool>(false);
    Admission *admission = m_admission;
    NodeStatus *status = m_status;
    const Release release = [admission, status, admissionKey, released] {
        if (!*released) {
            *released = true;
            releaseAdmitted(admission, status, admissionKey);
        }
    };
    connect(socket, &QTcpSocket::disconnected, socket, release);
    connect(socket, &QObject::destroyed, release);

    // The HTTP server takes pending sockets when notified of a new connection.
    addPendingConnection(socket);
    Q_EMIT newConnection();
    return socket;
}

} // namespace collective
