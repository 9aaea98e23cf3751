// The kiosk's settings, from command-line flags and environment variables.
// A flag wins over its variable. `collective-witness --help` lists them all.
#pragma once

#include "reconnectpolicy.h"

#include <QSize>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <chrono>
#include <optional>

namespace collective::witness {

struct WitnessOptions
{
    QUrl url;                    // --url / COLLECTIVE_URL, normalised by normaliseServerUrl()
    bool windowed = false;       // --windowed: a normal window, for development
    QSize windowSize{1280, 720}; // --window-size WxH, windowed mode only
    int screen = -1;             // --screen N; -1 is the primary screen
    bool reducedMotion = false;  // --reduced-motion / COLLECTIVE_REDUCED_MOTION
    ReconnectSettings reconnect; // --reconnect-initial-ms, --reconnect-max-ms
    QString stateFile;           // --state-file / COLLECTIVE_STATE_FILE
    QString screenshotPath;      // --screenshot / COLLECTIVE_SCREENSHOT
    std::chrono::milliseconds screenshotAfter{5000}; // --screenshot-after-ms
};

// Parses the arguments (arguments.first() is the program name) and the
// process environment. Returns nothing and sets *error to a message naming
// the flag or variable and its accepted form when a value is invalid.
// --help and --version print their text and exit the process.
std::optional<WitnessOptions> parseWitnessOptions(const QStringList &arguments, QString *error);

// Turns what an operator may write into the WebSocket endpoint:
//   ws://host:4000                  -> ws://host:4000/socket/websocket?vsn=2.0.0
//   http://host:4000/socket         -> ws://host:4000/socket/websocket?vsn=2.0.0
//   wss://host/socket/websocket     -> wss://host/socket/websocket?vsn=2.0.0
// Schemes http and https become ws and wss. Returns an invalid QUrl and sets
// *error for any other scheme, a missing host or another path.
QUrl normaliseServerUrl(const QString &text, QString *error);

} // namespace collective::witness
