// The kiosk's logging category. Enable its debug output (one line per frame)
// with QT_LOGGING_RULES="collective.witness.debug=true".
#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcWitness)
