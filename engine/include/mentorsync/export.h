// Symbol visibility for the engine's declarations. The build hides everything by default. The
// engine is only built as a static library (linked into libmentorsync.so, which exports just
// its ms_ functions), so MENTORSYNC_API is empty unless a build that makes its own shared
// engine defines MENTORSYNC_SHARED_BUILD.
#pragma once

#if defined(MENTORSYNC_SHARED_BUILD)
#define MENTORSYNC_API [[gnu::visibility("default")]]
#else
#define MENTORSYNC_API
#endif
