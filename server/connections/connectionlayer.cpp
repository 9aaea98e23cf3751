// Socket threads, shared-port listeners and broadcast hand-off.
#include "connections/connectionlayer.h"

#include "websocket/frames.h"

#include <QElapsedTimer>
#include <QEventLoop>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace collective {

namespace {

// Pending connections the kernel queues per listening socket. Qt's default
// of 50 refuses connections in a reconnect storm; the kernel caps this at
// net.core.somaxconn.
constexpr int listenBacklog = 4096;

// Opens a listening TCP socket; with reusePort (SO_REUSEPORT) several
// sockets, of threads or processes, share one port. Returns -1 with *error
// and errno set on failure.
int openListener(const QHostAddress &address, quint16 port, bool reusePort, quint16 *boundPort, QString *error)
{
    const bool ipv6 = address.protocol() == QAbstractSocket::IPv6Protocol;
    const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = QStringLiteral("cannot create a socket: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        return -1;
    }

    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (reusePort)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);

    sockaddr_storage storage{};
    socklen_t length = 0;
    if (ipv6) {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        const Q_IPV6ADDR raw = address.toIPv6Address();
        std::memcpy(&in6->sin6_addr, &raw, sizeof raw);
        length = sizeof(sockaddr_in6);
    } else {
        auto *in4 = reinterpret_cast<sockaddr_in *>(&storage);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        in4->sin_addr.s_addr = htonl(address.toIPv4Address());
        length = sizeof(sockaddr_in);
    }

    if (::bind(fd, reinterpret_cast<sockaddr *>(&storage), length) != 0 || ::listen(fd, listenBacklog) != 0) {
        const int failure = errno;
        *error = QStringLiteral("cannot listen on %1 port %2: %3")
                         .arg(address.toString())
                         .arg(port)
                         .arg(QString::fromLocal8Bit(std::strerror(failure)));
        ::close(fd);
        errno = failure;
        return -1;
    }

    ::getsockname(fd, reinterpret_cast<sockaddr *>(&storage), &length);
    *boundPort = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6 *>(&storage)->sin6_port
                            : reinterpret_cast<sockaddr_in *>(&storage)->sin_port);
    return fd;
}

// True when a listener without SO_REUSEPORT cannot bind the port, which
// means another socket listens there.
bool portIsTaken(const QHostAddress &address, quint16 port)
{
    QString ignored;
    quint16 bound = 0;
    const int probe = openListener(address, port, false, &bound, &ignored);
    if (probe < 0)
        return errno == EADDRINUSE;
    ::close(probe);
    return false;
}

} // namespace

ConnectionLayer::ConnectionLayer(int threads, const HubSettings &settings, const AdmissionLimits &limits,
                                 NodeStatus *status, const protocol::Catalogue &catalogue,
                                 WitnessHub::RouteInstaller installRoutes, QObject *parent)
    : QObject(parent),
      m_threadCount(qMax(1, threads)),
      m_settings(settings),
      m_status(status),
      m_catalogue(catalogue),
      m_installRoutes(std::move(installRoutes)),
      m_admission(limits)
{
    m_admissionPurge.setInterval(30000);
    connect(&m_admissionPurge, &QTimer::timeout, this, [this] { m_admission.purge(m_status->clock()->nowMs()); });
    m_admissionPurge.start();
}

ConnectionLayer::~ConnectionLayer()
{
    for (Worker &worker : m_workers) {
        worker.thread->quit();
        worker.thread->wait();
    }
}

bool ConnectionLayer::listen(const QHostAddress &address, quint16 port, bool sharePort, QString *error)
{
    if (port != 0 && !sharePort && portIsTaken(address, port)) {
        *error = QStringLiteral("port %1 is already in use by another process; stop it, choose another PORT, or set "
                                "COLLECTIVE_SHARE_PORT=1 to share the port with it on purpose")
                         .arg(port);
        return false;
    }

    // The first listener settles the port (the kernel picks one for 0); the
    // others join it.
    for (int index = 0; index < m_threadCount; ++index) {
        quint16 boundPort = 0;
        const int fd = openListener(address, index == 0 ? port : m_port, true, &boundPort, error);
        if (fd < 0)
            return false;
        m_port = boundPort;

        Worker worker;
        worker.thread = std::make_unique<QThread>();
        worker.thread->setObjectName(QStringLiteral("socket-%1").arg(index));
        worker.hub = new WitnessHub(index, fd, m_settings, m_status, &m_admission, m_catalogue, m_installRoutes,
                                    [this] { notifyWitnessCountChanged(); });
        worker.hub->moveToThread(worker.thread.get());
        connect(worker.thread.get(), &QThread::finished, worker.hub, &QObject::deleteLater);
        worker.thread->start();

        bool started = false;
        QMetaObject::invokeMethod(
                worker.hub, [&] { started = worker.hub->start(error); }, Qt::BlockingQueuedConnection);
        m_workers.push_back(std::move(worker));
        if (!started)
            return false;
    }
    return true;
}

void ConnectionLayer::notifyWitnessCountChanged()
{
    // A join storm makes many changes; the main thread needs only the latest.
    if (m_countNotificationPending.exchange(true))
        return;
    QMetaObject::invokeMethod(
            this,
            [this] {
                m_countNotificationPending.store(false);
                Q_EMIT witnessCountChanged(m_status->localWitnesses.load());
            },
            Qt::QueuedConnection);
}

void ConnectionLayer::broadcast(const QList<Broadcast> &broadcasts)
{
    // Framed once here; every hub shares these bytes (QByteArray's reference
    // count is atomic, so the copies into the hubs' queues copy nothing).
    QList<WireFrame> wire;
    for (const Broadcast &broadcast : broadcasts)
        wire.append({websocket::textFrame(broadcast.frame), broadcast.version});
    m_status->metrics.broadcasts.fetch_add(broadcasts.size(), std::memory_order_relaxed);
    for (Worker &worker : m_workers) {
        WitnessHub *hub = worker.hub;
        if (hub->queueBroadcasts(wire))
            QMetaObject::invokeMethod(hub, [hub] { hub->sendQueued(); }, Qt::QueuedConnection);
    }
}

void ConnectionLayer::shutdown(protocol::CloseCode code, const QString &reason, int windowMs, int graceMs)
{
    for (Worker &worker : m_workers) {
        WitnessHub *hub = worker.hub;
        QMetaObject::invokeMethod(hub, [hub, code, reason, windowMs] { hub->closeAll(code, reason, windowMs); },
                                  Qt::BlockingQueuedConnection);
    }

    // The socket threads keep running while the close frames go out and the
    // peers reply, and a peer that never replies is cut off at the deadline.
    QElapsedTimer waited;
    waited.start();
    QEventLoop loop;
    while (m_status->openSockets.load() > 0 && waited.elapsed() < windowMs + graceMs)
        loop.processEvents(QEventLoop::WaitForMoreEvents, 10);
    loop.processEvents(); // the last count change

    for (Worker &worker : m_workers) {
        worker.thread->quit();
        worker.thread->wait();
    }
    m_workers.clear();
}

} // namespace collective
