// A QTcpServer that applies admission control as connections are accepted:
// a refused connection gets a short HTTP 429 answer and is closed before Qt
// makes a socket object for it. Admitted sockets are released from the
// per-address count when they disconnect or are destroyed, whichever comes
// first.
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
    // `accepted` hears of every admitted socket, for the handshake timeout.
    AdmittingTcpServer(Admission *admission, NodeStatus *status, std::function<void(QTcpSocket *)> accepted,
                       QObject *parent = nullptr);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    Admission *m_admission;
    NodeStatus *m_status;
    std::function<void(QTcpSocket *)> m_accepted;
};

} // namespace collective
