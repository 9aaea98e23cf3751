// collective-loadgen: witnesses for benchmarks. See usageText() in
// options.cpp and bench/drive.mjs, which runs several of these processes.
#include "generator.h"
#include "options.h"

#include <sys/resource.h>

#include <cstdio>

int main(int argc, char **argv)
{
    std::string error;
    const std::optional<loadgen::Options> options = loadgen::parseOptions(argc, argv, &error);
    if (!options) {
        if (error.empty()) {
            std::fputs(loadgen::usageText().c_str(), stdout);
            return 0;
        }
        std::fprintf(stderr, "collective-loadgen: %s\n", error.c_str());
        return 2;
    }

    // Every socket is a descriptor. Raise the soft limit as far as the hard
    // limit allows, and warn when that is not enough.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
        ::getrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur != RLIM_INFINITY && rlim_t(options->sockets) + 16 > files.rlim_cur)
        std::fprintf(stderr,
                     "collective-loadgen: warning: %d sockets but the open-file limit is %llu; the sockets "
                     "past it fail with EMFILE. Use more processes.\n",
                     options->sockets, static_cast<unsigned long long>(files.rlim_cur));

    loadgen::Generator generator(*options);
    if (!generator.run(&error)) {
        std::fprintf(stderr, "collective-loadgen: %s\n", error.c_str());
        return 1;
    }
    if (!loadgen::writeReport(*options, generator.results(), &error)) {
        std::fprintf(stderr, "collective-loadgen: %s\n", error.c_str());
        return 1;
    }
    return 0;
}
