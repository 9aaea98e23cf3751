// A real redis-server on a free loopback port, started by a test suite.
#pragma once

#include "config/redisendpoint.h"

#include <QByteArray>
#include <QHostAddress>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>

namespace collective::testing {

class RedisServer
{
public:
    bool start(QString *error)
    {
        const QString binary = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
        if (binary.isEmpty()) {
            *error = QStringLiteral("redis-server is not installed (Debian package redis-server)");
            return false;
        }
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        m_port = probe.serverPort();
        probe.close();

        m_process.start(binary, {QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                                 QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                                 QStringLiteral("--appendonly"), QStringLiteral("no"), QStringLiteral("--dir"),
                                 m_dir.path()});
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

    // Freezes or thaws the server, as a hung Redis would behave.
    void pause() { ::kill(pid_t(m_process.processId()), SIGSTOP); }
    void resume() { ::kill(pid_t(m_process.processId()), SIGCONT); }

    QByteArray cli(const QStringList &arguments)
    {
        QProcess cli;
        cli.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(m_port)} + arguments);
        cli.waitForFinished(5000);
        return cli.readAllStandardOutput();
    }

    RedisEndpoint endpoint() const
    {
        RedisEndpoint endpoint;
        endpoint.host = QStringLiteral("127.0.0.1");
        endpoint.port = m_port;
        return endpoint;
    }

private:
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
};

} // namespace collective::testing
