/* version: the one place faultline's version comes from. */
#ifndef FAULTLINE_VERSION_H
#define FAULTLINE_VERSION_H

/* Used when the tree is not a git checkout (a tarball): the release. */
#define FAULTLINE_VERSION_FALLBACK "0.1"

/* "0.1 (git 24f270a-dirty)": the release and, when built in a git
 * checkout, `git describe --always --dirty` at build time (the Makefile
 * passes it as FAULTLINE_GIT_DESCRIBE); "0.1" alone otherwise. Static
 * storage: do not free. Written into `faultline --version`, the history
 * header ("faultline_version") and the report. */
const char *faultline_version(void);

#endif /* FAULTLINE_VERSION_H */
