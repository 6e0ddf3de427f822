// Catch2's BENCHMARK machinery as the suite uses it, for Catch2 2.13 (Debian 12) and 3.x (the GPU
// machine): the statistics of a finished BENCHMARK in one version-independent struct, the base class
// of a listener, and the sample count of the BENCHMARKs of one case.
//
// Catch2 passes the statistics to benchmarkEnded as BenchmarkStats<> (2.13 to 3.4) or BenchmarkStats
// (3.5 and later, no longer a template); the parameter's type is taken from the base class's own
// declaration, so one listener compiles against all of them. The durations are nanoseconds (double)
// in every version.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../test/catch_compat.h"

namespace bench {

#if __has_include(<catch2/catch_all.hpp>)
using CatchListenerBase = Catch::EventListenerBase;
#else
using CatchListenerBase = Catch::TestEventListenerBase;
#endif

namespace detail {
template <class T>
struct first_parameter;
template <class C, class R, class A>
struct first_parameter<R (C::*)(A)> {
    using type = std::remove_cv_t<std::remove_reference_t<A>>;
};
}  // namespace detail

// The type benchmarkEnded receives in this Catch2 version.
using CatchBenchmarkStats = typename detail::first_parameter<decltype(&CatchListenerBase::benchmarkEnded)>::type;

// One finished BENCHMARK, in seconds.
struct CatchFigures {
    std::string name;
    int iterations = 1;           // calls per sample (Catch2 times several calls together when one is short)
    std::vector<double> samples;  // seconds per call, one per sample
    double mean = 0, mean_low = 0, mean_high = 0;        // the bootstrapped mean and its confidence interval
    double stddev = 0, stddev_low = 0, stddev_high = 0;  // the same for the standard deviation
    double confidence_interval = 0;                      // e.g. 0.95
    int low_severe = 0, low_mild = 0, high_mild = 0, high_severe = 0;  // Catch2's outlier classification
    double outlier_variance = 0;                                       // fraction of the variance explained by outliers
};

inline CatchFigures catch_figures(const CatchBenchmarkStats& s) {
    auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
    CatchFigures f;
    f.name = s.info.name;
    f.iterations = s.info.iterations;
    for (const auto& d : s.samples) f.samples.push_back(seconds(d));
    f.mean = seconds(s.mean.point);
    f.mean_low = seconds(s.mean.lower_bound);
    f.mean_high = seconds(s.mean.upper_bound);
    f.confidence_interval = s.mean.confidence_interval;
    f.stddev = seconds(s.standardDeviation.point);
    f.stddev_low = seconds(s.standardDeviation.lower_bound);
    f.stddev_high = seconds(s.standardDeviation.upper_bound);
    f.low_severe = s.outliers.low_severe;
    f.low_mild = s.outliers.low_mild;
    f.high_mild = s.outliers.high_mild;
    f.high_severe = s.outliers.high_severe;
    f.outlier_variance = s.outlierVariance;
    return f;
}

// The session's configuration after the command line was read (main sets it), for CatchSamplesScope.
inline Catch::ConfigData& session_config() {
    static Catch::ConfigData data;
    return data;
}

// While alive, the BENCHMARKs run with `samples` samples: a copy of the session's configuration with
// that one value changed is the current one (Catch2 reads the sample count from the current
// configuration when a BENCHMARK starts). The copy writes nowhere: its output file is cleared.
class CatchSamplesScope {
public:
    CatchSamplesScope(const Catch::ConfigData& session, int samples) {
        Catch::ConfigData data = session;
        data.benchmarkSamples = static_cast<unsigned>(samples);
#if __has_include(<catch2/catch_all.hpp>)
        data.defaultOutputFilename.clear();
        data.reporterSpecifications.clear();
        saved_ = Catch::getCurrentContext().getConfig();
        config_ = std::make_unique<Catch::Config>(data);
        Catch::getCurrentMutableContext().setConfig(config_.get());
#else
        data.outputFilename.clear();
        saved_ = Catch::getCurrentContext().getConfig();
        config_ = std::make_shared<Catch::Config>(data);
        Catch::getCurrentMutableContext().setConfig(config_);
#endif
    }
    ~CatchSamplesScope() { Catch::getCurrentMutableContext().setConfig(saved_); }
    CatchSamplesScope(const CatchSamplesScope&) = delete;
    CatchSamplesScope& operator=(const CatchSamplesScope&) = delete;

private:
#if __has_include(<catch2/catch_all.hpp>)
    const Catch::IConfig* saved_ = nullptr;
    std::unique_ptr<Catch::Config> config_;
#else
    Catch::IConfigPtr saved_;
    std::shared_ptr<Catch::Config> config_;
#endif
};

}  // namespace bench
