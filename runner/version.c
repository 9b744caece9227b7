/* version: the one place faultline's version comes from. */
#include "runner/version.h"

#ifdef FAULTLINE_GIT_DESCRIBE
#define VERSION FAULTLINE_VERSION_FALLBACK " (git " FAULTLINE_GIT_DESCRIBE ")"
#else
#define VERSION FAULTLINE_VERSION_FALLBACK
#endif

const char *faultline_version(void)
{
    return VERSION;
}
