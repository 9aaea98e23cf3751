#include "witnesslog.h"

// Debug output is off by default, as in the server's categories.
Q_LOGGING_CATEGORY(lcWitness, "collective.witness", QtInfoMsg)
