#include "generator.h"

#include "wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace loadgen {

namespace {

constexpr std::uint64_t signalToken = ~std::uint64_t(0);
constexpr std::size_t readBufferBytes = 64 * 1024;
// Limits that protect the generator from a misbehaving server.
constexpr std::size_t maxUpgradeResponseBytes = 16 * 1024;
constexpr std::size_t maxMessageBytes = 1024 * 1024;

std::int64_t monotonicMicros()
{
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

std::string errnoName(int error)
{
    const char *name = ::strerrorname_np(error);
    return name ? std::string(name) : "errno " + std::to_string(error);
}

std::string base64(const unsigned char *data, std::size_t size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t index = 0; index < size; index += 3) {
        const std::uint32_t chunk = (std::uint32_t(data[index]) << 16)
                | (index + 1 < size ? std::uint32_t(data[index + 1]) << 8 : 0)
                | (index + 2 < size ? std::uint32_t(data[index + 2]) : 0);
        out.push_back(alphabet[(chunk >> 18) & 63]);
        out.push_back(alphabet[(chunk >> 12) & 63]);
        out.push_back(index + 1 < size ? alphabet[(chunk >> 6) & 63] : '=');
        out.push_back(index + 2 < size ? alphabet[chunk & 63] : '=');
    }
    return out;
}

const char *phaseName(int phase)
{
    switch (phase) {
    case 1:
        return "connecting";
    case 2:
        return "upgrading";
    case 3:
        return "joining";
    default:
        return "unknown";
    }
}

} // namespace

Generator::Generator(Options options)
    : m_options(std::move(options)),
      m_connections(std::size_t(m_options.sockets)),
      m_readBuffer(readBufferBytes)
{
    m_randomState = std::uint64_t(monotonicMicros()) ^ (std::uint64_t(::getpid()) << 32) ^ 0x9E3779B97F4A7C15ULL;
    m_results.joinLatencyUs.reserve(std::size_t(m_options.sockets));
}

Generator::~Generator()
{
    for (Connection &connection : m_connections) {
        if (connection.fd >= 0)
            ::close(connection.fd);
    }
    if (m_signals >= 0)
        ::close(m_signals);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

std::uint32_t Generator::nextRandom()
{
    // xorshift64*: masking keys and handshake keys need no cryptographic
    // strength, only variety.
    m_randomState ^= m_randomState >> 12;
    m_randomState ^= m_randomState << 25;
    m_randomState ^= m_randomState >> 27;
    return std::uint32_t((m_randomState * 0x2545F4914F6CDD1DULL) >> 32);
}

bool Generator::run(std::string *error)
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
        *error = std::string("epoll_create1 failed: ") + std::strerror(errno);
        return false;
    }

    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGUSR1);
    sigprocmask(SIG_BLOCK, &stopSignals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    m_signals = ::signalfd(-1, &stopSignals, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_event signalEvent{};
    signalEvent.events = EPOLLIN;
    signalEvent.data.u64 = signalToken;
    if (m_signals < 0 || ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_signals, &signalEvent) != 0) {
        *error = std::string("signalfd setup failed: ") + std::strerror(errno);
        return false;
    }

    m_results.startedUs = monotonicMicros();
    m_joinDeadlineUs = m_results.startedUs + std::int64_t(m_options.joinTimeoutSeconds) * 1000000;
    m_stopDeadlineUs = m_results.startedUs + std::int64_t(m_options.maxRunSeconds) * 1000000;
    startMore(m_results.startedUs);

    std::vector<epoll_event> events(1024);
    bool stopping = false;
    while (!stopping) {
        const bool polling = pollingReads();
        const int ready = ::epoll_wait(m_epoll, events.data(), int(events.size()),
                                       polling ? 0 : waitTimeoutMs(monotonicMicros()));
        if (ready < 0 && errno != EINTR) {
            *error = std::string("epoll_wait failed: ") + std::strerror(errno);
            return false;
        }
        for (int index = 0; index < ready; ++index) {
            if (events[index].data.u64 == signalToken) {
                stopping = true;
                continue;
            }
            handleEvent(int(events[index].data.u64), events[index].events);
        }

        const std::int64_t nowUs = monotonicMicros();
        if (!m_settled && nowUs >= m_joinDeadlineUs)
            giveUpPending();
        settleIfDone(nowUs);
        sendDueHeartbeats(nowUs);
        if (nowUs >= m_stopDeadlineUs)
            stopping = true;
        if (polling && ready < int(events.size()))
            pause(m_options.pollMs);
    }

    m_results.stoppedUs = monotonicMicros();
    for (const Connection &connection : m_connections) {
        if (connection.phase == Phase::Joined)
            ++m_results.openAtStop;
    }
    return true;
}

bool Generator::pollingReads() const
{
    // A reader asleep in epoll_wait makes each send() of a server on the same
    // machine pay for a wakeup, which remote witnesses never cost it. A
    // polled receipt is stamped up to pollMs late.
    return m_settled && m_options.pollMs > 0;
}

void Generator::pause(int milliseconds)
{
    timespec duration{};
    duration.tv_nsec = long(milliseconds) * 1000000;
    ::nanosleep(&duration, nullptr);
}

int Generator::waitTimeoutMs(std::int64_t nowUs) const
{
    std::int64_t wakeUs = std::min(nowUs + 1000000, m_stopDeadlineUs);
    if (!m_settled)
        wakeUs = std::min(wakeUs, m_joinDeadlineUs);
    if (!m_heartbeatsDue.empty())
        wakeUs = std::min(wakeUs, m_heartbeatsDue.front().first);
    return int(std::max<std::int64_t>(0, (wakeUs - nowUs + 999) / 1000));
}

void Generator::startMore(std::int64_t nowUs)
{
    while (m_pending < m_options.maxPending && m_nextToStart < m_options.sockets)
        open(m_nextToStart++, nowUs);
}

void Generator::open(int index, std::int64_t nowUs)
{
    Connection &connection = m_connections[std::size_t(index)];
    connection.startedUs = nowUs;
    connection.phase = Phase::Connecting;
    ++m_pending;

    connection.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connection.fd < 0) {
        fail(index, "socket " + errnoName(errno));
        return;
    }

    if (!m_options.sources.empty()) {
        // The port is chosen at connect() time, per destination, so one
        // source address is not limited to one set of ephemeral ports.
        const int on = 1;
        ::setsockopt(connection.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
        sockaddr_in source{};
        source.sin_family = AF_INET;
        source.sin_addr = m_options.sources[std::size_t(index) % m_options.sources.size()];
        if (::bind(connection.fd, reinterpret_cast<sockaddr *>(&source), sizeof source) != 0) {
            fail(index, "bind " + errnoName(errno));
            return;
        }
    }

    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(m_options.port);
    target.sin_addr = m_options.host;
    if (::connect(connection.fd, reinterpret_cast<sockaddr *>(&target), sizeof target) != 0
        && errno != EINPROGRESS) {
        fail(index, "connect " + errnoName(errno));
        return;
    }

    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    event.data.u64 = std::uint64_t(index);
    connection.wantsWrite = true;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, connection.fd, &event) != 0)
        fail(index, "epoll_ctl " + errnoName(errno));
}

void Generator::handleEvent(int index, std::uint32_t events)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.fd < 0)
        return;

    if (connection.phase == Phase::Connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            finishConnect(index);
        return;
    }
    if ((events & EPOLLERR) && connection.phase == Phase::Upgrading && (events & EPOLLIN)) {
        // A server that rejects a connection (HTTP 429) writes its response
        // and closes before it reads the request, and the request then draws
        // a reset. Read the response first, so the failure names its status.
        readFrom(index);
        if (connection.fd < 0 || connection.phase != Phase::Upgrading)
            return;
    }
    if (events & EPOLLERR) {
        int socketError = 0;
        socklen_t length = sizeof socketError;
        ::getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &socketError, &length);
        const std::string cause = "error " + errnoName(socketError ? socketError : EIO);
        drop(index, cause);
        return;
    }
    if (events & EPOLLOUT)
        flush(index);
    if (connection.fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
        readFrom(index);
}

void Generator::finishConnect(int index)
{
    Connection &connection = m_connections[std::size_t(index)];
    int socketError = 0;
    socklen_t length = sizeof socketError;
    ::getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &socketError, &length);
    if (socketError != 0) {
        fail(index, "connect " + errnoName(socketError));
        return;
    }

    // Sec-WebSocket-Accept is not checked: the status line is enough to know
    // the server took the upgrade, and the load is on the server, not here.
    unsigned char keyBytes[16];
    for (int offset = 0; offset < 16; offset += 4) {
        const std::uint32_t random = nextRandom();
        std::memcpy(keyBytes + offset, &random, 4);
    }
    const std::string request = "GET " + m_options.path + " HTTP/1.1\r\nHost: " + m_options.hostText + ":"
            + std::to_string(m_options.port)
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
            + base64(keyBytes, sizeof keyBytes) + "\r\nUser-Agent: collective-loadgen\r\n\r\n";

    connection.phase = Phase::Upgrading;
    setWantsWrite(index, false);
    sendBytes(index, request);
}

void Generator::readFrom(int index)
{
    Connection &connection = m_connections[std::size_t(index)];
    const ssize_t received = ::read(connection.fd, m_readBuffer.data(), m_readBuffer.size());
    const std::int64_t receivedUs = monotonicMicros();
    if (received < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        const std::string cause = "error " + errnoName(errno);
        drop(index, cause);
        return;
    }
    if (received == 0) {
        drop(index, "eof");
        return;
    }

    const std::string_view fresh(m_readBuffer.data(), std::size_t(received));
    if (connection.phase == Phase::Upgrading) {
        connection.input.append(fresh);
        parseUpgradeResponse(index);
        if (connection.phase != Phase::Joining || connection.input.empty())
            return;
    } else if (connection.input.empty()) {
        // The common case: parse straight from the read buffer and keep only
        // an incomplete tail.
        bool closed = false;
        const std::size_t used = parseFrames(index, fresh, receivedUs, &closed);
        if (!closed && used < fresh.size())
            connection.input.assign(fresh.substr(used));
        return;
    } else {
        connection.input.append(fresh);
    }

    bool closed = false;
    const std::size_t used = parseFrames(index, connection.input, receivedUs, &closed);
    if (!closed)
        connection.input.erase(0, used);
}

void Generator::parseUpgradeResponse(int index)
{
    Connection &connection = m_connections[std::size_t(index)];
    const std::size_t end = connection.input.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (connection.input.size() > maxUpgradeResponseBytes)
            fail(index, "upgrade response too long");
        return; // else wait for the rest of the response
    }

    // "HTTP/1.1 101 Switching Protocols"
    int status = 0;
    const std::size_t space = connection.input.find(' ');
    if (connection.input.rfind("HTTP/1.", 0) == 0 && space != std::string::npos && space < end)
        status = std::atoi(connection.input.c_str() + space + 1);
    if (status != 101) {
        fail(index, "upgrade status " + std::to_string(status));
        return;
    }

    connection.input.erase(0, end + 4);
    connection.phase = Phase::Joining;
    sendFrame(index, Opcode::Text, R"(["1","1","collective:lobby","phx_join",{}])");
}

std::size_t Generator::parseFrames(int index, std::string_view data, std::int64_t receivedUs, bool *closed)
{
    Connection &connection = m_connections[std::size_t(index)];
    std::size_t used = 0;
    while (used < data.size()) {
        FrameHeader header;
        const HeaderStatus status = readServerFrameHeader(data.substr(used), &header);
        if (status == HeaderStatus::NeedMore)
            break;
        if (status == HeaderStatus::Invalid || header.payloadBytes > maxMessageBytes) {
            *closed = true;
            const std::string cause = "invalid frame from the server";
            if (connection.phase == Phase::Joined)
                lose(index, cause);
            else
                fail(index, cause);
            return used;
        }
        if (data.size() - used - header.headerBytes < header.payloadBytes)
            break;

        const std::string_view payload = data.substr(used + header.headerBytes, std::size_t(header.payloadBytes));
        used += header.headerBytes + std::size_t(header.payloadBytes);

        bool open = true;
        if (header.opcode >= 0x8) {
            open = handleMessage(index, header.opcode, payload, receivedUs);
        } else if (header.fin && header.opcode != 0 && connection.message.empty()) {
            open = handleMessage(index, header.opcode, payload, receivedUs);
        } else {
            if (header.opcode != 0)
                connection.messageOpcode = header.opcode;
            connection.message.append(payload);
            if (connection.message.size() > maxMessageBytes) {
                *closed = true;
                lose(index, "message over 1 MiB from the server");
                return used;
            }
            if (header.fin) {
                const std::string message = std::move(connection.message);
                connection.message.clear();
                open = handleMessage(index, connection.messageOpcode, message, receivedUs);
            }
        }
        if (!open) {
            *closed = true;
            return used;
        }
    }
    return used;
}

bool Generator::handleMessage(int index, std::uint8_t opcode, std::string_view payload, std::int64_t receivedUs)
{
    Connection &connection = m_connections[std::size_t(index)];
    switch (Opcode(opcode)) {
    case Opcode::Text:
        handleText(index, payload, receivedUs);
        return connection.fd >= 0;
    case Opcode::Ping:
        ++m_results.pingsAnswered;
        sendFrame(index, Opcode::Pong, payload);
        return connection.fd >= 0;
    case Opcode::Close: {
        const int code = payload.size() >= 2 ? (std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]) : 1005;
        // RFC 6455 requires a close frame in response. The socket closes
        // right after.
        sendFrame(index, Opcode::Close, payload.substr(0, std::min<std::size_t>(payload.size(), 2)));
        if (connection.phase == Phase::Joined)
            lose(index, "close " + std::to_string(code));
        else if (connection.fd >= 0)
            fail(index, "close " + std::to_string(code) + " " + phaseName(int(connection.phase)));
        return false;
    }
    case Opcode::Pong:
        return true;
    default:
        ++m_results.otherFramesReceived;
        return true;
    }
}

void Generator::handleText(int index, std::string_view text, std::int64_t receivedUs)
{
    Connection &connection = m_connections[std::size_t(index)];
    PhoenixFrame frame;
    if (!splitPhoenixFrame(text, &frame)) {
        ++m_results.otherFramesReceived;
        return;
    }

    if (frame.event == "tick") {
        ++m_results.ticksReceived;
        const auto tick = integerMember(frame.payload, "tick");
        if (tick && connection.phase == Phase::Joined)
            m_results.tickReceiptsUs[*tick].push_back(receivedUs);
    } else if (frame.event == "presence") {
        ++m_results.presenceReceived;
    } else if (frame.event == "evolution") {
        ++m_results.evolutionReceived;
    } else if (frame.event == "phx_reply" && frame.topic == "phoenix") {
        ++m_results.heartbeatReplies;
    } else if (frame.event == "phx_reply" && connection.phase == Phase::Joining && frame.ref == "1") {
        if (!replyIsOk(frame.payload))
            fail(index, "join rejected");
    } else if (frame.event == "welcome" && connection.phase == Phase::Joining) {
        welcome(index, receivedUs);
    } else {
        ++m_results.otherFramesReceived;
    }
}

void Generator::welcome(int index, std::int64_t receivedUs)
{
    Connection &connection = m_connections[std::size_t(index)];
    connection.phase = Phase::Joined;
    --m_pending;
    ++m_finished;
    ++m_results.joined;
    m_results.joinLatencyUs.push_back(receivedUs - connection.startedUs);
    if (m_results.firstWelcomeUs == 0)
        m_results.firstWelcomeUs = receivedUs;
    m_results.lastWelcomeUs = receivedUs;
    m_heartbeatsDue.emplace_back(receivedUs + std::int64_t(m_options.heartbeatSeconds) * 1000000, index);
    startMore(receivedUs);
}

void Generator::sendFrame(int index, Opcode opcode, std::string_view payload)
{
    std::string frame;
    frame.reserve(payload.size() + 14);
    appendClientFrame(&frame, opcode, payload, nextRandom());
    sendBytes(index, frame);
}

void Generator::sendBytes(int index, std::string_view bytes)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.fd < 0)
        return;
    connection.output.append(bytes);
    flush(index);
}

void Generator::flush(int index)
{
    Connection &connection = m_connections[std::size_t(index)];
    while (!connection.output.empty()) {
        const ssize_t written = ::send(connection.fd, connection.output.data(), connection.output.size(), MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            const std::string cause = "error " + errnoName(errno);
            if (connection.phase == Phase::Joined)
                lose(index, cause);
            else
                fail(index, cause + " " + phaseName(int(connection.phase)));
            return;
        }
        connection.output.erase(0, std::size_t(written));
    }
    setWantsWrite(index, !connection.output.empty());
}

void Generator::setWantsWrite(int index, bool wantsWrite)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.fd < 0 || connection.wantsWrite == wantsWrite)
        return;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | (wantsWrite ? std::uint32_t(EPOLLOUT) : 0U);
    event.data.u64 = std::uint64_t(index);
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection.fd, &event);
    connection.wantsWrite = wantsWrite;
}

void Generator::fail(int index, const std::string &cause)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.phase == Phase::Done || connection.phase == Phase::Joined)
        return;
    ++m_results.failures[cause];
    --m_pending;
    ++m_finished;
    connection.phase = Phase::Done;
    closeSocket(index);
    if (!m_settled)
        startMore(monotonicMicros());
}

void Generator::lose(int index, const std::string &cause)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.phase != Phase::Joined)
        return;
    ++m_results.closesAfterJoin[cause];
    connection.phase = Phase::Done;
    closeSocket(index);
}

void Generator::drop(int index, const std::string &cause)
{
    const Connection &connection = m_connections[std::size_t(index)];
    if (connection.phase == Phase::Joined)
        lose(index, cause);
    else
        fail(index, cause + " " + phaseName(int(connection.phase)));
}

void Generator::closeSocket(int index)
{
    Connection &connection = m_connections[std::size_t(index)];
    if (connection.fd >= 0) {
        ::close(connection.fd); // also removes it from the epoll set
        connection.fd = -1;
    }
    std::string().swap(connection.input);
    std::string().swap(connection.message);
    std::string().swap(connection.output);
}

void Generator::sendDueHeartbeats(std::int64_t nowUs)
{
    const std::int64_t intervalUs = std::int64_t(m_options.heartbeatSeconds) * 1000000;
    while (!m_heartbeatsDue.empty() && m_heartbeatsDue.front().first <= nowUs) {
        const auto [dueUs, index] = m_heartbeatsDue.front();
        m_heartbeatsDue.pop_front();
        Connection &connection = m_connections[std::size_t(index)];
        if (connection.phase != Phase::Joined)
            continue;

        const std::string heartbeat = R"([null,")" + std::to_string(connection.nextRef++)
                + R"(","phoenix","heartbeat",{}])";
        sendFrame(index, Opcode::Text, heartbeat);
        ++m_results.heartbeatsSent;
        m_heartbeatsDue.emplace_back(dueUs + intervalUs, index);
    }
}

void Generator::giveUpPending()
{
    const int notStarted = m_options.sockets - m_nextToStart;
    if (notStarted > 0)
        m_results.failures["not started"] += notStarted;
    m_finished += notStarted;
    m_nextToStart = m_options.sockets;

    for (int index = 0; index < m_options.sockets; ++index) {
        const Phase phase = m_connections[std::size_t(index)].phase;
        if (phase == Phase::Connecting || phase == Phase::Upgrading || phase == Phase::Joining)
            fail(index, std::string("timeout ") + phaseName(int(phase)));
    }
}

void Generator::settleIfDone(std::int64_t nowUs)
{
    if (m_settled || m_finished < m_options.sockets)
        return;
    m_settled = true;
    m_results.settledUs = nowUs;
    std::printf("{\"event\":\"settled\",\"name\":\"%s\",\"joined\":%d,\"failed\":%d,\"at_us\":%lld}\n",
                m_options.name.c_str(), m_results.joined, m_options.sockets - m_results.joined,
                static_cast<long long>(nowUs));
    std::fflush(stdout);
}

} // namespace loadgen
