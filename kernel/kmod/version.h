/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The module's versions. SAKER_SCHEMA_VERSION is the FNV-1a 64 hash of
 * kernel/include/saker_events.h (the event layouts): saker refuses a module
 * built from another event schema. crates/kmod's tests keep it equal to the
 * header (SAKER_BLESS=1 rewrites it).
 */
#ifndef SAKER_KMOD_VERSION_H
#define SAKER_KMOD_VERSION_H

#define SAKER_KMOD_VERSION "0.1.0"
#define SAKER_SCHEMA_VERSION 0x098e5f3452f7d2dfULL

#endif /* SAKER_KMOD_VERSION_H */
