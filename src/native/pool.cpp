// The compiled core's worker threads: started on first use (as many as the largest
// parallel_for asked for, less the caller), kept for the life of the process and asleep on a
// condition variable between calls, so a call costs a wake-up rather than starting and joining
// threads (measured on the 2-core VM: about 50-60 us a call with a new std::thread each time).
// No spinning: an idle worker takes no CPU time from the caller's other libraries.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define SIGCONV_HAS_ATFORK 1
#else
#define SIGCONV_HAS_ATFORK 0
#endif

namespace sigconv {
namespace detail {

namespace {

constexpr int MAX_WORKERS = 255;

struct Pool {
    std::mutex m;
    std::condition_variable work_cv;   // workers wait here for a job
    std::condition_variable done_cv;   // callers wait here for their job's last piece
    std::deque<Job*> queue;            // jobs with pieces nobody has claimed yet
    int workers = 0;
};

// Never freed: detached workers may sleep on its condition variables until the process ends.
std::atomic<Pool*> the_pool{nullptr};
std::once_flag pool_once;

#if SIGCONV_HAS_ATFORK
// Only the forking thread survives a fork: the child gets a fresh pool with no workers (the
// parent's, locked around the fork so that its state is consistent, is abandoned there).
void before_fork() { the_pool.load()->m.lock(); }
void after_fork_parent() { the_pool.load()->m.unlock(); }
void after_fork_child() { the_pool.store(new Pool()); }
#endif

Pool& pool() {
    std::call_once(pool_once, [] {
        the_pool.store(new Pool());
#if SIGCONV_HAS_ATFORK
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
#endif
    });
    return *the_pool.load();
}

void unqueue(Pool& p, Job* job) {
    auto it = std::find(p.queue.begin(), p.queue.end(), job);
    if (it != p.queue.end()) p.queue.erase(it);
}

// Claims and runs pieces of job until none is left; returns how many it ran.
std::ptrdiff_t claim_pieces(Pool& p, Job* job) {
    std::ptrdiff_t ran = 0;
    for (;;) {
        const std::ptrdiff_t i = job->next.fetch_add(1);
        if (i >= job->t) return ran;
        try {
            job->call(job->ctx, job->n * i / job->t, job->n * (i + 1) / job->t);
        } catch (...) {
            std::lock_guard<std::mutex> lk(p.m);
            if (!job->error) job->error = std::current_exception();
        }
        ++ran;
    }
}

void worker_main(Pool* p) {
    std::unique_lock<std::mutex> lk(p->m);
    for (;;) {
        p->work_cv.wait(lk, [p] { return !p->queue.empty(); });
        Job* job = p->queue.front();
        ++job->refs;
        lk.unlock();
        const std::ptrdiff_t ran = claim_pieces(*p, job);
        lk.lock();
        unqueue(*p, job);
        job->done += ran;
        --job->refs;
        // notified under the lock: the caller cannot see its job finished (and free it)
        // before this worker lets go of it
        if (job->done == job->t && job->refs == 0) p->done_cv.notify_all();
    }
}

}  // namespace

void run_job(Job& job, int helpers) {
    Pool& p = pool();
    helpers = static_cast<int>(std::min<std::ptrdiff_t>({job.t - 1, std::ptrdiff_t(helpers),
                                                         std::ptrdiff_t(MAX_WORKERS)}));
    {
        std::lock_guard<std::mutex> lk(p.m);
        while (p.workers < helpers) {
            std::thread(worker_main, &p).detach();
            ++p.workers;
        }
        p.queue.push_back(&job);
    }
    if (helpers == 1) p.work_cv.notify_one();
    else p.work_cv.notify_all();
    const std::ptrdiff_t ran = claim_pieces(p, &job);
    std::unique_lock<std::mutex> lk(p.m);
    unqueue(p, &job);
    job.done += ran;
    p.done_cv.wait(lk, [&job] { return job.done == job.t && job.refs == 0; });
    if (job.error) std::rethrow_exception(job.error);
}

int pool_workers() {
    Pool& p = pool();
    std::lock_guard<std::mutex> lk(p.m);
    return p.workers;
}

}  // namespace detail
}  // namespace sigconv
