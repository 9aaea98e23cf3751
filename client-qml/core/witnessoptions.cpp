#include "witnessoptions.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QRegularExpression>
#include <QUrlQuery>

namespace collective::witness {

namespace {

const QString defaultUrl = QStringLiteral("ws://localhost:4000/socket/websocket?vsn=2.0.0");

// The value of a flag if given, else of its environment variable, else
// nothing.
std::optional<QString> lookUp(const QCommandLineParser &parser, const QString &flag, const char *variable)
{
    if (parser.isSet(flag))
        return parser.value(flag);
    if (qEnvironmentVariableIsSet(variable))
        return qEnvironmentVariable(variable);
    return std::nullopt;
}

std::optional<bool> parseSwitch(const QString &text)
{
    const QString value = text.trimmed().toLower();
    if (value == QLatin1String("1") || value == QLatin1String("true") || value == QLatin1String("yes")
        || value == QLatin1String("on"))
        return true;
    if (value.isEmpty() || value == QLatin1String("0") || value == QLatin1String("false")
        || value == QLatin1String("no") || value == QLatin1String("off"))
        return false;
    return std::nullopt;
}

std::optional<qint64> parseMilliseconds(const QString &text, qint64 minimum, qint64 maximum)
{
    bool ok = false;
    const qint64 value = text.trimmed().toLongLong(&ok);
    if (!ok || value < minimum || value > maximum)
        return std::nullopt;
    return value;
}

} // namespace

QUrl normaliseServerUrl(const QString &text, QString *error)
{
    QUrl url(text.trimmed(), QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    if (!url.isValid() || url.host().isEmpty()) {
        *error = QStringLiteral("'%1' is not a URL with a host, such as ws://localhost:4000").arg(text);
        return {};
    }
    if (scheme == QLatin1String("http"))
        url.setScheme(QStringLiteral("ws"));
    else if (scheme == QLatin1String("https"))
        url.setScheme(QStringLiteral("wss"));
    else if (scheme != QLatin1String("ws") && scheme != QLatin1String("wss")) {
        *error = QStringLiteral("'%1' has the scheme '%2'; use ws://, wss://, http:// or https://").arg(text, scheme);
        return {};
    }

    QString path = url.path();
    while (path.endsWith(QLatin1Char('/')))
        path.chop(1);
    if (path.isEmpty())
        path = QStringLiteral("/socket/websocket");
    else if (path == QLatin1String("/socket"))
        path += QStringLiteral("/websocket");
    else if (path != QLatin1String("/socket/websocket")) {
        *error = QStringLiteral("'%1' has the path '%2'; the Collective listens on /socket/websocket").arg(text, path);
        return {};
    }
    url.setPath(path);

    QUrlQuery query(url);
    query.removeAllQueryItems(QStringLiteral("vsn"));
    query.addQueryItem(QStringLiteral("vsn"), QStringLiteral("2.0.0"));
    url.setQuery(query);
    url.setFragment(QString());
    return url;
}

std::optional<WitnessOptions> parseWitnessOptions(const QStringList &arguments, QString *error)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "collective-witness: the fullscreen gallery kiosk of The Collective. It joins the server, "
        "shows the witnesses, the peak, the total time and the unlocked milestones, and reconnects "
        "by itself for as long as it runs. Every option also reads the environment variable in brackets; "
        "the option wins."));
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption = parser.addVersionOption();

    const QCommandLineOption url(QStringLiteral("url"),
        QStringLiteral("Server WebSocket URL; a base such as ws://host:4000 is completed "
                       "[COLLECTIVE_URL, default %1].").arg(defaultUrl), QStringLiteral("url"));
    const QCommandLineOption windowed(QStringLiteral("windowed"),
        QStringLiteral("Show a normal window with a cursor instead of the fullscreen kiosk, for development."));
    const QCommandLineOption windowSize(QStringLiteral("window-size"),
        QStringLiteral("Window size in pixels with --windowed [default 1280x720]."), QStringLiteral("WxH"));
    const QCommandLineOption screen(QStringLiteral("screen"),
        QStringLiteral("Index of the screen to fill, from 0 [COLLECTIVE_SCREEN, default: the primary screen]."),
        QStringLiteral("N"));
    const QCommandLineOption reducedMotion(QStringLiteral("reduced-motion"),
        QStringLiteral("Fade instead of moving: no tweening, halo or focus effect "
                       "[COLLECTIVE_REDUCED_MOTION=1]."));
    const QCommandLineOption reconnectInitial(QStringLiteral("reconnect-initial-ms"),
        QStringLiteral("First reconnect delay in ms, 10 to 600000 [COLLECTIVE_RECONNECT_INITIAL_MS, default 1000]."),
        QStringLiteral("ms"));
    const QCommandLineOption reconnectMax(QStringLiteral("reconnect-max-ms"),
        QStringLiteral("Largest reconnect delay before the jitter of 20 percent, in ms, 10 to 3600000 "
                       "[COLLECTIVE_RECONNECT_MAX_MS, default 30000]."),
        QStringLiteral("ms"));
    const QCommandLineOption stateFile(QStringLiteral("state-file"),
        QStringLiteral("Append the model state as one JSON object per line on each change; "
                       "the file is emptied at start [COLLECTIVE_STATE_FILE]."),
        QStringLiteral("path"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("Save the window as a PNG image once, then keep running [COLLECTIVE_SCREENSHOT]."),
        QStringLiteral("path"));
    const QCommandLineOption screenshotAfter(QStringLiteral("screenshot-after-ms"),
        QStringLiteral("Delay from start to the screenshot in ms [COLLECTIVE_SCREENSHOT_AFTER_MS, default 5000]."),
        QStringLiteral("ms"));
    parser.addOptions({url, windowed, windowSize, screen, reducedMotion, reconnectInitial, reconnectMax,
                       stateFile, screenshot, screenshotAfter});

    if (!parser.parse(arguments)) {
        *error = parser.errorText();
        return std::nullopt;
    }
    // Both print and exit the process.
    if (parser.isSet(helpOption))
        parser.showHelp(0);
    if (parser.isSet(versionOption))
        parser.showVersion();
    if (!parser.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument '%1'; see --help").arg(parser.positionalArguments().first());
        return std::nullopt;
    }

    WitnessOptions options;

    QString urlError;
    options.url = normaliseServerUrl(lookUp(parser, url.names().first(), "COLLECTIVE_URL").value_or(defaultUrl), &urlError);
    if (!options.url.isValid()) {
        *error = QStringLiteral("--url / COLLECTIVE_URL: %1").arg(urlError);
        return std::nullopt;
    }

    options.windowed = parser.isSet(windowed);
    if (parser.isSet(windowSize)) {
        static const QRegularExpression sizePattern(QStringLiteral("^(\\d{2,5})x(\\d{2,5})$"));
        const auto match = sizePattern.match(parser.value(windowSize).trimmed());
        if (!match.hasMatch()) {
            *error = QStringLiteral("--window-size: '%1' is not WIDTHxHEIGHT in pixels, such as 1920x1080")
                         .arg(parser.value(windowSize));
            return std::nullopt;
        }
        options.windowSize = QSize(match.captured(1).toInt(), match.captured(2).toInt());
    }

    if (const auto text = lookUp(parser, screen.names().first(), "COLLECTIVE_SCREEN")) {
        bool ok = false;
        options.screen = text->trimmed().toInt(&ok);
        if (!ok || options.screen < 0) {
            *error = QStringLiteral("--screen / COLLECTIVE_SCREEN: '%1' is not a screen index (0, 1, ...)").arg(*text);
            return std::nullopt;
        }
    }

    options.reducedMotion = parser.isSet(reducedMotion);
    if (!options.reducedMotion && qEnvironmentVariableIsSet("COLLECTIVE_REDUCED_MOTION")) {
        const QString text = qEnvironmentVariable("COLLECTIVE_REDUCED_MOTION");
        const auto value = parseSwitch(text);
        if (!value) {
            *error = QStringLiteral("COLLECTIVE_REDUCED_MOTION: '%1' is not 1 or 0 (true/false, yes/no)").arg(text);
            return std::nullopt;
        }
        options.reducedMotion = *value;
    }

    if (const auto text = lookUp(parser, reconnectInitial.names().first(), "COLLECTIVE_RECONNECT_INITIAL_MS")) {
        const auto value = parseMilliseconds(*text, 10, 600000);
        if (!value) {
            *error = QStringLiteral("--reconnect-initial-ms / COLLECTIVE_RECONNECT_INITIAL_MS: '%1' is not "
                                    "a whole number of milliseconds from 10 to 600000").arg(*text);
            return std::nullopt;
        }
        options.reconnect.initialDelay = std::chrono::milliseconds(*value);
    }
    if (const auto text = lookUp(parser, reconnectMax.names().first(), "COLLECTIVE_RECONNECT_MAX_MS")) {
        const auto value = parseMilliseconds(*text, 10, 3600000);
        if (!value) {
            *error = QStringLiteral("--reconnect-max-ms / COLLECTIVE_RECONNECT_MAX_MS: '%1' is not "
                                    "a whole number of milliseconds from 10 to 3600000").arg(*text);
            return std::nullopt;
        }
        options.reconnect.maxDelay = std::chrono::milliseconds(*value);
    }
    if (options.reconnect.maxDelay < options.reconnect.initialDelay) {
        *error = QStringLiteral("--reconnect-max-ms (%1) is smaller than --reconnect-initial-ms (%2); "
                                "raise the maximum or lower the first delay")
                     .arg(options.reconnect.maxDelay.count()).arg(options.reconnect.initialDelay.count());
        return std::nullopt;
    }

    options.stateFile = lookUp(parser, stateFile.names().first(), "COLLECTIVE_STATE_FILE").value_or(QString());
    options.screenshotPath = lookUp(parser, screenshot.names().first(), "COLLECTIVE_SCREENSHOT").value_or(QString());
    if (const auto text = lookUp(parser, screenshotAfter.names().first(), "COLLECTIVE_SCREENSHOT_AFTER_MS")) {
        const auto value = parseMilliseconds(*text, 0, 86400000);
        if (!value) {
            *error = QStringLiteral("--screenshot-after-ms / COLLECTIVE_SCREENSHOT_AFTER_MS: '%1' is not "
                                    "a whole number of milliseconds from 0 to 86400000").arg(*text);
            return std::nullopt;
        }
        options.screenshotAfter = std::chrono::milliseconds(*value);
    }
    return options;
}

} // namespace collective::witness
