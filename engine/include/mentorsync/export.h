// Symbol visibility for the engine library. The build hides everything by default; only
// declarations marked MENTORSYNC_API are exported from the shared library.
#pragma once

#if defined(MENTORSYNC_SHARED_BUILD)
#define MENTORSYNC_API [[gnu::visibility("default")]]
#else
#define MENTORSYNC_API
#endif
