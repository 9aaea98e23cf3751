// A real redis-server on a free loopback port, started by a test suite.
#pragma once

#include "config/redisendpoint.h"

#include <QByteArray>
#include <QFile>
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

} // namespace collective::testing
