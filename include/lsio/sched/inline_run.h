#pragma once

// Running a handful of read tasks on the calling thread: each read with the store's synchronous
// Store::ReadNow (a Reader completion's semantics), each handler right after it. For requests so small (one element, a small window:
// a few chunks) that handing them to IO threads and CPU workers and waiting for both to wake up
// costs more than the work itself, most of all on a loaded machine where every hand-off waits
// for a time slice. Same task contract as sched::Run: follow-ups run before further source
// tasks, a missing key reaches its handler as kNotFound, the first error stops the run.

#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"
#include "lsio/sched/scheduler.h"

namespace lsio::sched {

// Runs every task of `source` and its follow-ups on this thread. A request's value_size and
// max_length are checked as a Reader checks them (kOutOfRange). options.cancelled is polled
// between tasks; threads, budgets and groups do not apply.
Result<SchedulerStats> RunInline(TaskSource& source, kvstore::Store& store,
                                 const SchedulerOptions& options = {});

}  // namespace lsio::sched
