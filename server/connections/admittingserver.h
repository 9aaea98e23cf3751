// A QTcpServer that applies admission control as connections are accepted:
// a refused connection gets a short HTTP 429 answer and is closed before Qt
// makes a socket object for it.
//
// An admitted connection must be released from its address's count exactly
// once. A plain HTTP socket releases itself when it disconnects or is
// destroyed. A socket upgraded to a WebSocket cannot: Qt HttpServer 6.4
// disconnects every signal of the socket when it hands it to QtWebSockets,
// so the release function goes to whoever adopts the WebSocket.
#pragma once

#include "connections/admission.h"
#include "status/nodestatus.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

#include <functional>

namespace collective {

class AdmittingTcpServer final : public QTcpServer
{
    Q_OBJECT

public:
    // Releases an admitted connection's place; safe to call more than once.
    using Release = std::function<void()>;

    // `accepted` hears of every admitted socket with its release function.
    AdmittingTcpServer(Admission *admission, NodeStatus *status,
                       std::function<void(QTcpSocket *, const Release &)> accepted, QObject *parent = nullptr);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    Admission *m_admission;
    NodeStatus *m_status;
    std::function<void(QTcpSocket *, const Release &)> m_accepted;
};

} // namespace collective
