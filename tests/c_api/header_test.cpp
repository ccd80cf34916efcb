/* Compiles the public C header on its own as C++20 with -Wall -Wextra -pedantic -Werror (a build
 * target: the build fails if the header stops being clean C++). */
#include "mentorsync/mentorsync.h"

int header_test_cpp(void);
int header_test_cpp(void) {
    ms_open_options open_options = MS_OPEN_OPTIONS_INIT;
    ms_query_options query_options = MS_QUERY_OPTIONS_INIT;
    ms_enroll_options enroll_options = MS_ENROLL_OPTIONS_INIT;
    ms_sync_options sync_options = MS_SYNC_OPTIONS_INIT;
    ms_error error = {0, 0, 0, 0, 0, {0}, {0}};
    (void)error;
    return (int)(open_options.version + query_options.version + enroll_options.version +
                 sync_options.version) +
           (int)sizeof(ms_store_status) + MS_ABI_VERSION;
}
