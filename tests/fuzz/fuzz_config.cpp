// libFuzzer target: settings parsing. The input is split into lines; lines
// with '=' are environment entries, the others command-line arguments. Any
// input must give a configuration or an error that names what was wrong.
#include "config/config.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    QStringList environment;
    QStringList arguments;
    for (const QString &line : text.split(QLatin1Char('\n'))) {
        if (line.startsWith(QLatin1String("--")) || !line.contains(QLatin1Char('=')))
            arguments.append(line);
        else
            environment.append(line);
    }

    const collective::ConfigResult result = collective::parseConfig(environment, arguments);
    if (!result.config && !result.helpRequested && result.error.isEmpty())
        std::abort();
    if (result.config && (result.config->threads < 1 || result.config->tickIntervalMs < 100))
        std::abort();
    return 0;
}
