// The HTTP routes that share the WebSocket port:
//
//   /                    the web page (and every file of web/ at its path)
//   /health/live         200 while the process runs
//   /health/ready        200 when the store answers and Chronos ticked within
//                        three intervals; 503 with the reason otherwise
//   /metrics/state       the global state and Chronos statistics, JSON
//   /metrics/evolution   unlocked/total and every milestone's progress, JSON
//   /metrics             Prometheus text exposition
//
// The handlers run in the socket threads and read only the status board.
#pragma once

#include "http/httpendpoint.h"
#include "status/nodestatus.h"

namespace collective {

void installRoutes(HttpEndpoint &server, const NodeStatus *status);

// The Prometheus text exposition of the node's metrics.
QByteArray prometheusText(const NodeStatus &status);

} // namespace collective
