// Debian's libbz2 (package libbz2-dev): the block-sorting compressor behind bzip2 and pbzip2.
#include <bzlib.h>
