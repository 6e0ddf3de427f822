// Catch2 v2 only, included by the one file holding the runner (CATCH_CONFIG_RUNNER): counts the
// test cases that EEGPT_SKIP skipped, so that the main can exit with 4 when all of them were, as
// Catch2 v3 does (see catch_compat.h).
#pragma once
#include "catch_compat.h"

namespace eegpt_test {

struct SkipListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo&) override { skip_tally().current = false; }
    void testCaseEnded(const Catch::TestCaseStats&) override {
        ++skip_tally().cases;
        if (skip_tally().current) ++skip_tally().skipped;
    }
};

// The session's exit status, or 4 when it succeeded and every test case that ran was skipped.
inline int skip_exit_code(int rc) {
    const SkipTally& t = skip_tally();
    return rc == 0 && t.cases > 0 && t.skipped == t.cases ? 4 : rc;
}

}  // namespace eegpt_test

using eegpt_test::SkipListener;
CATCH_REGISTER_LISTENER(SkipListener)
