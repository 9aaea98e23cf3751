// A real redis-server on a free loopback port, started by a test suite.
#pragma once

#include "config/redisendpoint.h"

#include <QByteArray>
#include <QFile>
#include <QHostAddress>
#include <QProcess>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>

namespace collective::testing {

class RedisServer
{
public:
    // Starts on `port`, or on a free port when it is 0; `extraArguments`
    // are appended to redis-server's command line.
    bool start(QString *error, const QStringList &extraArguments = {}, quint16 port = 0)
    {
        const QString binary = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
        if (binary.isEmpty()) {
            *error = QStringLiteral("redis-server is not installed (Debian package redis-server)");
            return false;
        }
        m_port = port;
        if (m_port == 0) {
            QTcpServer probe;
            probe.listen(QHostAddress::LocalHost, 0);
            m_port = probe.serverPort();
            probe.close();
        }

        m_process.start(binary, QStringList{QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                                            QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                                            QStringLiteral("--appendonly"), QStringLiteral("no"),
                                            QStringLiteral("--dir"), m_dir.path()}
                                        + extraArguments);
        if (!m_process.waitForStarted()) {
            *error = QStringLiteral("redis-server did not start: %1").arg(m_process.errorString());
            return false;
        }
        // Ready once redis-cli gets an answer.
        for (int attempt = 0; attempt < 100; ++attempt) {
            if (cli({QStringLiteral("PING")}).trimmed() == "PONG")
                return true;
            QThread::msleep(50);
        }
        *error = QStringLiteral("redis-server did not answer PING");
        return false;
    }

    void stop()
    {
        m_process.terminate();
        m_process.waitForFinished(5000);
    }

    // Freezes or thaws the server, as a hung Redis would behave. Returns
    // once the kernel shows the process stopped or running again.
    bool pause() { return signalAndWait(SIGSTOP, 'T'); }
    bool resume() { return signalAndWait(SIGCONT, 'S'); }

    QByteArray cli(const QStringList &arguments)
    {
        QProcess cli;
        cli.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(m_port)} + arguments);
        cli.waitForFinished(5000);
        return cli.readAllStandardOutput();
    }

    quint16 port() const { return m_port; }

    RedisEndpoint endpoint() const
    {
        RedisEndpoint endpoint;
        endpoint.host = QStringLiteral("127.0.0.1");
        endpoint.port = m_port;
        return endpoint;
    }

private:
    // The state letter in /proc/PID/stat: T stopped, S sleeping, R running.
    char processState() const
    {
        QFile stat(QStringLiteral("/proc/%1/stat").arg(m_process.processId()));
        if (!stat.open(QIODevice::ReadOnly))
            return '?';
        const QByteArray text = stat.readAll();
        const qsizetype close = text.lastIndexOf(')');
        return close > 0 && close + 2 < text.size() ? text.at(close + 2) : '?';
    }

    bool signalAndWait(int signal, char state)
    {
        const qint64 pid = m_process.processId();
        if (pid <= 0 || ::kill(pid_t(pid), signal) != 0)
            return false;
        for (int attempt = 0; attempt < 100; ++attempt) {
            const char now = processState();
            if (state == 'T' ? now == 'T' : now != 'T')
                return true;
            QThread::msleep(10);
        }
        return false;
    }

    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
};

// Three redis-server masters without replicas, joined into a Redis Cluster
// with redis-cli --cluster create.
class RedisCluster
{
public:
    bool start(QString *error)
    {
        QStringList addresses;
        for (RedisServer &node : m_nodes) {
            const quint16 port = freeClusterPort();
            if (port == 0) {
                *error = QStringLiteral("no free port pair (port and port + 10000) for a cluster node");
                return false;
            }
            if (!node.start(error,
                            {QStringLiteral("--cluster-enabled"), QStringLiteral("yes"),
                             QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf"),
                             QStringLiteral("--cluster-node-timeout"), QStringLiteral("1000")},
                            port))
                return false;
            addresses.append(QStringLiteral("127.0.0.1:%1").arg(port));
        }

        QProcess create;
        create.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("--cluster"), QStringLiteral("create")}
                                                         + addresses
                                                         + QStringList{QStringLiteral("--cluster-replicas"),
                                                                       QStringLiteral("0"),
                                                                       QStringLiteral("--cluster-yes")});
        if (!create.waitForFinished(30000) || create.exitCode() != 0) {
            *error = QStringLiteral("redis-cli --cluster create failed: %1")
                             .arg(QString::fromUtf8(create.readAllStandardOutput() + create.readAllStandardError()));
            return false;
        }

        // Every node must agree that all slots are served before a test runs.
        for (int attempt = 0; attempt < 200; ++attempt) {
            bool ok = true;
            for (RedisServer &node : m_nodes)
                ok = ok && node.cli({QStringLiteral("CLUSTER"), QStringLiteral("INFO")}).contains("cluster_state:ok");
            if (ok)
                return true;
            QThread::msleep(50);
        }
        *error = QStringLiteral("the cluster did not reach cluster_state:ok within 10 s");
        return false;
    }

    void stop()
    {
        for (RedisServer &node : m_nodes)
            node.stop();
    }

    void flushAll()
    {
        for (RedisServer &node : m_nodes)
            node.cli({QStringLiteral("FLUSHALL")});
    }

    QList<RedisEndpoint> seeds() const
    {
        QList<RedisEndpoint> seeds;
        for (const RedisServer &node : m_nodes)
            seeds.append(node.endpoint());
        return seeds;
    }

private:
    // A node also listens on its port + 10000 for the cluster bus. Ports are
    // picked below the kernel's ephemeral range (32768 and up on Debian), so
    // an outgoing connection cannot take the bus port between probe and start.
    static quint16 freeClusterPort()
    {
        for (int attempt = 0; attempt < 200; ++attempt) {
            const quint16 port = quint16(20000 + (QRandomGenerator::global()->bounded(2700)));
            QTcpServer client;
            QTcpServer bus;
            if (client.listen(QHostAddress::LocalHost, port) && bus.listen(QHostAddress::LocalHost, port + 10000))
                return port;
        }
        return 0;
    }

    RedisServer m_nodes[3];
};

} // namespace collective::testing
