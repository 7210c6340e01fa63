/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The helpers of saker's fillers, for every target (kernel/README.md):
 * kernel flags -> event flags, files and sockets behind fds, process state.
 * A target includes its own header first (the builder, the accessors), then
 * this, then its dispatchers, then progs.h (the fillers themselves).
 */
#ifndef SAKER_FILLERS_H
#define SAKER_FILLERS_H

#include "common.h"
#include "flags.h"
#include "extract.h"
#include "proc.h"

#endif /* SAKER_FILLERS_H */
