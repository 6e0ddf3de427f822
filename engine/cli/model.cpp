#include "cli/model.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "encoder/error.h"

namespace eegpt::cli {

namespace {

// More threads than cores only adds memory (one workspace per thread) and contention.
int usable_threads(int requested) {
    if (requested < 0)
        throw Error("--threads " + std::to_string(requested) + " must be 0 (all cores) or a positive count");
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (requested > cores) {
        std::fprintf(stderr, "eegpt: warning: --threads %d: only %d cores are available to this process; using %d\n",
                     requested, cores, cores);
        return cores;
    }
    return requested;
}

void* idle_thread(void*) { return nullptr; }

// libgomp cannot report a thread it fails to create: it prints its own message and calls exit(1)
// (under a virtual-memory or process limit), wherever the first parallel region happens to be. So
// the encoder's threads start here, before the weights take memory and before any output exists:
// first a test with threads of the same (default) stack size, which fails as one line, then an
// empty parallel region that leaves libgomp's pool of threads started for the encoder to reuse.
void start_threads(int requested) {
    const int threads = requested > 0 ? requested : omp_get_num_procs();  // as the CPU encoder counts
    std::vector<pthread_t> started;
    int err = 0;
    for (int i = 1; i < threads && err == 0; ++i) {
        pthread_t id;
        err = pthread_create(&id, nullptr, idle_thread, nullptr);
        if (err == 0) started.push_back(id);
    }
    for (pthread_t id : started) pthread_join(id, nullptr);
    if (err != 0)
        throw Error("cannot start " + std::to_string(threads) + " CPU threads: " + std::strerror(err) +
                    " (a memory or process limit; --threads sets fewer)");
#pragma omp parallel num_threads(threads)
    {
    }
}

}  // namespace

LoadedModel load_model(const std::string& weights_path, const EncoderOptions& requested, bool announce_stand_in) {
    EncoderOptions options = requested;
    options.threads = usable_threads(requested.threads);
    if (options.device == Device::cpu) start_threads(options.threads);
    auto weights = std::make_shared<ModelWeights>();
    if (weights_path.empty()) {
        if (announce_stand_in)
            std::fprintf(stderr,
                         "eegpt: WARNING: no --weights given: using a RANDOM-INITIALISED 'large' model (seed 0) as a "
                         "STAND-IN. Its features mean nothing; convert the released checkpoint with "
                         "tools/convert_ckpt.py and pass --weights.\n");
        *weights = random_weights(named_config("large"), 0);
        weights->provenance.source_checkpoint = "random-init:large";
    } else {
        *weights = load_weights(weights_path);
        for (const auto& w : weights->warnings)
            std::fprintf(stderr, "eegpt: warning: weights '%s': %s\n", weights_path.c_str(), w.c_str());
        // A random-initialised file (tools/convert_ckpt.py --random-init) loads like a trained one, and its
        // outputs look like features; the one warning says so, as Python's Model does.
        if (!weights->provenance.trained)
            std::fprintf(stderr,
                         "eegpt: warning: weights '%s' are untrained (random-initialised, seed %lld): their "
                         "features and predictions mean nothing\n",
                         weights_path.c_str(), static_cast<long long>(weights->provenance.random_seed));
    }
    LoadedModel m;
    m.weights = weights;
    m.encoder = make_encoder(m.weights, options);
    return m;
}

}  // namespace eegpt::cli
