//! The cheaper subsystem's decisions, as pure logic: uWSGI's adaptive worker count.
//!
//! The master runs [`Cheaper::decide`] once per cycle (a second, uWSGI's master interval) with
//! a [`View`] of what it knows (each worker slot: running, cheap, busy, spawn time, time spent
//! in requests, resident memory; the listen queue; the time) and carries out the [`Decision`]:
//! spawn these cheap slots, or cheap these workers. Nothing here does I/O; every algorithm's
//! state lives in [`Cheaper`], so each is tested cycle by cycle without processes.
//!
//! The algorithms follow uWSGI's (`core/master_utils.c`: spare, spare2, backlog, manual;
//! `plugins/cheaper_busyness`: busyness): one function each returns how many workers to
//! add (> 0) or remove (< 0), and [`Cheaper::decide`] applies the memory limits first and
//! picks the slots, as uWSGI's `uwsgi_calc_cheaper` does: the lowest cheap ids are spawned,
//! the idle worker spawned longest ago is cheaped.

use rwsgi_config::{CheaperAlgo, Config};
use rwsgi_stats::WorkerId;

/// Microseconds in a second.
const US: u64 = 1_000_000;

/// What cheaper mode is configured to do, derived once from the [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheaperSettings {
    /// `--cheaper-algo`.
    pub algo: CheaperAlgo,
    /// `--cheaper`: workers that always run.
    pub min_workers: usize,
    /// `--cheaper-initial` (clamped to `min_workers..=processes`): workers started at first.
    pub initial: usize,
    /// `--cheaper-step`: most workers spawned at once.
    pub step: usize,
    /// `--cheaper-overload`: cycles (spare), a queue depth (backlog) or seconds (busyness).
    pub overload: u64,
    /// `--cheaper-idle` (spare2): idle cycles before a worker is cheaped.
    pub idle_cycles: u64,
    /// `--cheaper-rss-limit-soft`, bytes: no spawn while the workers' total RSS is this high.
    pub rss_soft: Option<u64>,
    /// `--cheaper-rss-limit-hard`, bytes: a worker is cheaped while the total RSS is this high.
    pub rss_hard: Option<u64>,
    /// The `--cheaper-busyness-*` options.
    pub busyness: BusynessSettings,
}

/// The busyness algorithm's options (uWSGI's defaults: max 50 %, min 25 %, multiplier 10,
/// penalty 2, backlog alert 33, backlog multiplier 3, backlog step 1, backlog non-zero 60 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BusynessSettings {
    /// Average busyness (percent) above which workers are spawned.
    pub max: u64,
    /// Average busyness (percent) below which a worker is cheaped.
    pub min: u64,
    /// Idle time before a cheap, in units of `overload` seconds.
    pub multiplier: u64,
    /// Added to the multiplier when a worker is spawned again too soon after a cheap.
    pub penalty: u64,
    /// Log every measurement.
    pub verbose: bool,
    /// A listen queue deeper than this spawns emergency workers at once.
    pub backlog_alert: u64,
    /// The multiplier while emergency workers run.
    pub backlog_multiplier: u64,
    /// Emergency workers spawned at a time.
    pub backlog_step: usize,
    /// Seconds of a non-empty listen queue that spawn emergency workers.
    pub backlog_nonzero_secs: u64,
}

impl CheaperSettings {
    /// `None` when cheaper mode is off (`--cheaper 0`). The strings are uWSGI's start-up
    /// warnings for a `cheaper-initial` it clamps. `Config::validate` already refused what
    /// uWSGI refuses (`cheaper >= processes`, the RSS limits' dependencies).
    pub(crate) fn from_config(config: &Config) -> (Option<CheaperSettings>, Vec<String>) {
        let min_workers = config.cheaper as usize;
        let processes = config.processes as usize;
        if min_workers == 0 {
            return (None, Vec::new());
        }
        let mut warnings = Vec::new();
        let asked = config.cheaper_initial as usize;
        let initial = if asked == 0 {
            min_workers
        } else if asked < min_workers {
            warnings.push(format!(
                "warning: invalid cheaper-initial value ({asked}), must be equal or higher than \
                 cheaper ({min_workers}), using {min_workers} as initial number of workers"
            ));
            min_workers
        } else if asked > processes {
            warnings.push(format!(
                "warning: invalid cheaper-initial value ({asked}), must be lower or equal than \
                 worker count ({processes}), using {processes} as initial number of workers"
            ));
            processes
        } else {
            asked
        };
        let settings = CheaperSettings {
            algo: config.cheaper_algo,
            min_workers,
            initial,
            step: config.cheaper_step.max(1) as usize,
            overload: config.cheaper_overload.max(1),
            idle_cycles: config.cheaper_idle.max(1),
            rss_soft: config.cheaper_rss_limit_soft,
            rss_hard: config.cheaper_rss_limit_hard,
            busyness: BusynessSettings {
                max: config.cheaper_busyness_max,
                min: config.cheaper_busyness_min,
                multiplier: config.cheaper_busyness_multiplier.max(1),
                penalty: config.cheaper_busyness_penalty,
                verbose: config.cheaper_busyness_verbose,
                backlog_alert: config.cheaper_busyness_backlog_alert,
                backlog_multiplier: config.cheaper_busyness_backlog_multiplier.max(1),
                backlog_step: config.cheaper_busyness_backlog_step.max(1) as usize,
                backlog_nonzero_secs: config.cheaper_busyness_backlog_nonzero,
            },
        };
        (Some(settings), warnings)
    }
}

/// What the master knows about one worker slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WorkerView {
    /// A process runs for this slot (it may be stopping).
    pub running: bool,
    /// Cheaped: stopped, or stopping, by cheaper mode (not respawned when it exits).
    pub cheap: bool,
    /// A core is inside a request.
    pub busy: bool,
    /// Unix seconds of the last spawn.
    pub last_spawn: u64,
    /// Microseconds spent in requests since the first spawn (the scoreboard's `running_time`).
    pub running_time_us: u64,
    /// Resident memory, bytes (as the worker last reported it).
    pub rss: u64,
}

impl WorkerView {
    /// uWSGI's "active" worker: running and not cheaped.
    fn active(&self) -> bool {
        self.running && !self.cheap
    }

    /// A cheap slot with no process left: it can be spawned.
    fn spawnable(&self) -> bool {
        self.cheap && !self.running
    }
}

/// One cycle's input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    /// Every worker slot, id 1 first.
    pub workers: &'a [WorkerView],
    /// Connections waiting in the listen queues (all sockets).
    pub backlog: u64,
    /// Monotonic microseconds (any origin, never going back).
    pub now_us: u64,
}

impl View<'_> {
    fn active(&self) -> usize {
        self.workers.iter().filter(|w| w.active()).count()
    }

    fn busy(&self) -> usize {
        self.workers.iter().filter(|w| w.active() && w.busy).count()
    }

    /// How many workers one spawn decision may start: the spawnable slots, at most `step`.
    fn spawnable_up_to(&self, step: usize) -> usize {
        self.workers
            .iter()
            .filter(|w| w.spawnable())
            .count()
            .min(step)
    }
}

/// What the master is to do this cycle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Decision {
    /// Nothing.
    #[default]
    None,
    /// Spawn these workers (cheap slots without a process).
    Spawn(Vec<WorkerId>),
    /// Cheap these worker ids: they stop accepting, finish their requests and exit, and are
    /// not respawned.
    Cheap(Vec<WorkerId>),
}

/// A decision and the log lines that explain it (uWSGI's words).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    /// What to do.
    pub decision: Decision,
    /// Lines for the server log, in order.
    pub log: Vec<String>,
}

/// The spare algorithm's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SpareState {
    overload_count: u64,
    idle_count: u64,
}

/// The spare2 algorithm's counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spare2State {
    idle_count: u64,
}

/// What the busyness algorithm did last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastAction {
    None,
    Spawned,
    Cheaped,
}

/// The busyness algorithm's measurements and timers (microseconds of [`View::now_us`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BusynessState {
    /// Each slot's `running_time_us` at the last measurement.
    last_values: Vec<u64>,
    /// Cycles each slot was seen busy since the last measurement.
    was_busy: Vec<u64>,
    /// When the last measurement was taken.
    tcheck: u64,
    /// When a worker was last cheaped for low busyness.
    last_cheaped: Option<u64>,
    /// No cheap before this.
    next_cheap: u64,
    /// The multiplier as configured (the floor of `cheap_multi`).
    min_multi: u64,
    /// The current multiplier.
    cheap_multi: u64,
    last_action: LastAction,
    /// Measurements in a row between min and max.
    tolerance_counter: u64,
    /// Workers spawned for the listen queue that were not cheaped yet.
    emergency_workers: u64,
    /// Since when the listen queue has been non-empty.
    backlog_nonzero_since: Option<u64>,
}

/// Per-algorithm state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AlgoState {
    Spare(SpareState),
    Spare2(Spare2State),
    Backlog,
    Busyness(BusynessState),
    Manual,
}

/// The cheaper subsystem: its settings and its algorithm's state.
#[derive(Debug, Clone)]
pub(crate) struct Cheaper {
    settings: CheaperSettings,
    state: AlgoState,
}

impl Cheaper {
    /// Cheaper mode for `workers` slots from `now_us` on; the lines are the algorithm's
    /// start-up log (busyness prints its settings, as uWSGI's plugin does).
    pub(crate) fn new(
        settings: CheaperSettings,
        workers: usize,
        now_us: u64,
    ) -> (Cheaper, Vec<String>) {
        let mut log = Vec::new();
        let state = match settings.algo {
            CheaperAlgo::Spare => AlgoState::Spare(SpareState::default()),
            CheaperAlgo::Spare2 => AlgoState::Spare2(Spare2State::default()),
            CheaperAlgo::Backlog => AlgoState::Backlog,
            CheaperAlgo::Manual => AlgoState::Manual,
            CheaperAlgo::Busyness => {
                let b = &settings.busyness;
                log.push(format!(
                    "[busyness] settings: min={}%, max={}%, overload={}, multiplier={}, respawn penalty={}",
                    b.min, b.max, settings.overload, b.multiplier, b.penalty
                ));
                log.push(format!(
                    "[busyness] backlog alert is set to {} request(s), step is {}",
                    b.backlog_alert, b.backlog_step
                ));
                log.push(format!(
                    "[busyness] backlog non-zero alert is set to {} second(s)",
                    b.backlog_nonzero_secs
                ));
                let mut state = BusynessState {
                    last_values: vec![0; workers],
                    was_busy: vec![0; workers],
                    tcheck: now_us,
                    last_cheaped: None,
                    next_cheap: 0,
                    min_multi: b.multiplier,
                    cheap_multi: b.multiplier,
                    last_action: LastAction::None,
                    tolerance_counter: 0,
                    emergency_workers: 0,
                    backlog_nonzero_since: None,
                };
                set_next_cheap_time(&mut state, &settings, now_us, &mut Vec::new());
                AlgoState::Busyness(state)
            }
        };
        (Cheaper { settings, state }, log)
    }

    /// The settings it runs with.
    pub(crate) fn settings(&self) -> &CheaperSettings {
        &self.settings
    }

    /// One cycle: the memory limits, then the algorithm, then which slots (uWSGI's
    /// `uwsgi_calc_cheaper`).
    pub(crate) fn decide(&mut self, view: &View<'_>) -> Outcome {
        let s = &self.settings;
        let mut log = Vec::new();
        let mut can_spawn = true;
        let mut forced = 0i64;
        if let Some(soft) = s.rss_soft {
            let active = view.active();
            let total: u64 = view
                .workers
                .iter()
                .filter(|w| w.active())
                .map(|w| w.rss)
                .sum();
            if s.rss_hard.is_some_and(|hard| active > 1 && total >= hard) {
                log.push(format!(
                    "cheaper hard rss memory limit exceeded, cheap one of {active} workers"
                ));
                forced = -1;
                can_spawn = false;
            } else if total >= soft {
                can_spawn = false;
            }
        }
        let wanted = if forced != 0 {
            forced
        } else {
            let n = match &mut self.state {
                AlgoState::Spare(st) => spare(st, s, view, can_spawn),
                AlgoState::Spare2(st) => spare2(st, s, view, can_spawn),
                AlgoState::Backlog => backlog(s, view, can_spawn),
                AlgoState::Busyness(st) => busyness(st, s, view, can_spawn, &mut log),
                AlgoState::Manual => 0,
            };
            // the algorithms obey can_spawn; a spawn past the soft limit would be a bug here
            if can_spawn {
                n
            } else {
                n.min(0)
            }
        };
        let decision = match wanted {
            n if n > 0 => {
                let ids: Vec<WorkerId> = spawnable_ids(view).take(n as usize).collect();
                if ids.is_empty() {
                    Decision::None
                } else {
                    Decision::Spawn(ids)
                }
            }
            n if n < 0 => {
                let ids = cheapable_ids(view, n.unsigned_abs() as usize);
                if ids.is_empty() {
                    Decision::None
                } else {
                    Decision::Cheap(ids)
                }
            }
            _ => Decision::None,
        };
        Outcome { decision, log }
    }
}

/// Cheap slots without a process, lowest id first (1-based).
fn spawnable_ids<'a>(view: &'a View<'_>) -> impl Iterator<Item = WorkerId> + 'a {
    view.workers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.spawnable())
        .map(|(i, _)| WorkerId::from_index(i))
}

/// Up to `n` active, idle workers, the one spawned longest ago first (uWSGI picks the oldest
/// idle worker; a busy one is never chosen, so no request is cut short by the choice).
fn cheapable_ids(view: &View<'_>, n: usize) -> Vec<WorkerId> {
    let mut idle: Vec<(u64, WorkerId)> = view
        .workers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.active() && !w.busy)
        .map(|(i, w)| (w.last_spawn, WorkerId::from_index(i)))
        .collect();
    idle.sort_unstable();
    idle.into_iter().take(n).map(|(_, id)| id).collect()
}

/// spare: when every active worker has been busy for `overload` cycles, spawn up to `step`;
/// when none is overloaded and more than one worker is free, cheap one every `overload`
/// idle cycles down to `cheaper`. One free worker is the stable state.
pub(crate) fn spare(
    st: &mut SpareState,
    s: &CheaperSettings,
    view: &View<'_>,
    can_spawn: bool,
) -> i64 {
    let any_free = view.workers.iter().any(|w| w.active() && !w.busy);
    if any_free {
        st.overload_count = st.overload_count.saturating_sub(1);
    } else {
        st.overload_count += 1;
        st.idle_count = 0;
    }
    if can_spawn && st.overload_count >= s.overload {
        st.overload_count = 0;
        return view.spawnable_up_to(s.step) as i64;
    }
    if st.overload_count == 0 {
        let (active, busy) = (view.active(), view.busy());
        if active > busy && active - busy == 1 {
            return 0;
        }
        st.idle_count += 1;
        if active > s.min_workers && st.idle_count.is_multiple_of(s.overload) {
            return -1;
        }
    }
    0
}

/// spare2: keep `cheaper` idle workers. Fewer idle: spawn the difference (at most `step`, at
/// most the cheap slots); more: cheap one after `cheaper-idle` such cycles in a row.
pub(crate) fn spare2(
    st: &mut Spare2State,
    s: &CheaperSettings,
    view: &View<'_>,
    can_spawn: bool,
) -> i64 {
    let busy = view.busy();
    let idle = view.active() - busy;
    let cheaped = view.workers.len() - (idle + busy);
    if idle < s.min_workers {
        st.idle_count = 0;
        if !can_spawn {
            return 0;
        }
        return (s.min_workers - idle).min(cheaped).min(s.step) as i64;
    }
    if idle == s.min_workers {
        st.idle_count = 0;
        return 0;
    }
    st.idle_count += 1;
    if st.idle_count < s.idle_cycles {
        return 0;
    }
    st.idle_count = 0;
    -1
}

/// backlog: a listen queue deeper than `overload` spawns up to `step`; a shallower one cheaps
/// a worker per cycle down to `cheaper`; exactly `overload` keeps the count.
pub(crate) fn backlog(s: &CheaperSettings, view: &View<'_>, can_spawn: bool) -> i64 {
    if can_spawn && view.backlog > s.overload {
        view.spawnable_up_to(s.step) as i64
    } else if view.backlog < s.overload && view.active() > s.min_workers {
        -1
    } else {
        0
    }
}

/// Sets when the next cheap may happen: `overload x multiplier` seconds from now, or
/// `overload x backlog-multiplier` while emergency workers run (they go sooner).
fn set_next_cheap_time(
    st: &mut BusynessState,
    s: &CheaperSettings,
    now: u64,
    log: &mut Vec<String>,
) {
    let b = &s.busyness;
    let multi = if st.emergency_workers > 0 {
        if b.verbose {
            log.push(format!(
                "[busyness] {} emergency worker(s) running, using {} seconds cheaper timer",
                st.emergency_workers,
                s.overload.saturating_mul(b.backlog_multiplier)
            ));
        }
        b.backlog_multiplier
    } else {
        st.cheap_multi
    };
    // saturating: the multipliers are the user's numbers, however large
    st.next_cheap = now.saturating_add(s.overload.saturating_mul(multi).saturating_mul(US));
}

fn decrease_multi(st: &mut BusynessState, log: &mut Vec<String>) {
    if st.cheap_multi > st.min_multi {
        st.cheap_multi -= 1;
        log.push(format!(
            "[busyness] decreasing cheaper multiplier to {}",
            st.cheap_multi
        ));
    }
}

fn spawn_emergency_worker(
    st: &mut BusynessState,
    s: &CheaperSettings,
    view: &View<'_>,
    log: &mut Vec<String>,
) -> i64 {
    st.cheap_multi = st.min_multi;
    st.last_action = LastAction::Spawned;
    let n = view.spawnable_up_to(s.busyness.backlog_step);
    set_next_cheap_time(st, s, view.now_us, log);
    if n > 0 {
        st.emergency_workers += n as u64;
        log.push(format!(
            "[busyness] {} requests in listen queue, spawning {n} emergency worker(s) ({})!",
            view.backlog, st.emergency_workers
        ));
    } else {
        log.push(format!(
            "[busyness] {} requests in listen queue but we are already started maximum number of workers ({})",
            view.backlog,
            view.workers.len()
        ));
    }
    n as i64
}

/// busyness: every `overload` seconds, the share of that time each active worker spent in
/// requests. Above `max` on average: spawn up to `step` (and raise the multiplier by
/// `penalty` when a worker was cheaped less than `overload x multiplier` seconds ago).
/// Below `min`: cheap one once the cheap timer has run out. In between: the timer is pushed
/// back. Between measurements, a listen queue past `backlog-alert`, or non-empty for
/// `backlog-nonzero` seconds, spawns emergency workers.
pub(crate) fn busyness(
    st: &mut BusynessState,
    s: &CheaperSettings,
    view: &View<'_>,
    can_spawn: bool,
    log: &mut Vec<String>,
) -> i64 {
    let b = &s.busyness;
    let t = s.overload * US;
    let active = view.active();
    for (i, w) in view.workers.iter().enumerate() {
        if w.active() {
            st.was_busy[i] += u64::from(w.busy);
        } else {
            st.was_busy[i] = 0;
        }
    }
    let now = view.now_us;
    if now.saturating_sub(st.tcheck) >= t {
        st.tcheck = now;
        let mut total = 0;
        for (i, w) in view.workers.iter().enumerate() {
            if w.active() {
                let spent = w.running_time_us.saturating_sub(st.last_values[i]);
                let mut percent = (spent.saturating_mul(100) / t).min(100);
                if spent == 0 && st.was_busy[i] > 0 {
                    // requests longer than the interval: busy, though none completed
                    if b.verbose {
                        log.push(format!(
                            "[busyness] worker {} was busy {} time(s) in last cycle but no request was completed during this time, marking as 100% busy",
                            i + 1,
                            st.was_busy[i]
                        ));
                    }
                    percent = 100;
                }
                st.was_busy[i] = 0;
                total += percent;
                if b.verbose && active > 1 {
                    log.push(format!(
                        "[busyness] worker nr {} {}s average busyness is at {percent}%",
                        i + 1,
                        s.overload
                    ));
                }
            }
            st.last_values[i] = w.running_time_us;
        }
        let avg = if active > 0 { total / active as u64 } else { 0 };
        if b.verbose {
            log.push(format!(
                "[busyness] {}s average busyness of {active} worker(s) is at {avg}%",
                s.overload
            ));
        }
        if avg > b.max {
            st.tolerance_counter = 0;
            let n = if can_spawn {
                view.spawnable_up_to(s.step)
            } else {
                0
            };
            if n > 0 {
                st.last_action = LastAction::Spawned;
                let too_soon = st
                    .last_cheaped
                    .is_some_and(|at| (now - at) / s.overload / US <= st.cheap_multi);
                if too_soon {
                    st.cheap_multi = st.cheap_multi.saturating_add(b.penalty);
                    log.push(format!(
                        "[busyness] worker(s) respawned to fast, increasing cheaper multiplier to {} (+{})",
                        st.cheap_multi, b.penalty
                    ));
                } else {
                    decrease_multi(st, log);
                }
                set_next_cheap_time(st, s, now, log);
                log.push(format!(
                    "[busyness] {}s average busyness is at {avg}%, will spawn {n} new worker(s)",
                    s.overload
                ));
            } else {
                log.push(format!(
                    "[busyness] {}s average busyness is at {avg}% but we already started maximum number of workers available with current limits ({active})",
                    s.overload
                ));
            }
            return n as i64;
        }
        if can_spawn && view.backlog > b.backlog_alert && active < view.workers.len() {
            return spawn_emergency_worker(st, s, view, log);
        }
        if avg < b.min {
            if active == 1 {
                return 0;
            }
            st.tolerance_counter = 0;
            if active > s.min_workers {
                if now >= st.next_cheap {
                    if st.last_action == LastAction::Cheaped {
                        decrease_multi(st, log);
                    }
                    set_next_cheap_time(st, s, now, log);
                    log.push(format!(
                        "[busyness] {}s average busyness is at {avg}%, cheap one of {active} running workers",
                        s.overload
                    ));
                    st.last_cheaped = Some(now);
                    st.last_action = LastAction::Cheaped;
                    st.emergency_workers = st.emergency_workers.saturating_sub(1);
                    return -1;
                }
                if b.verbose {
                    log.push(format!(
                        "[busyness] need to wait {} more second(s) to cheap worker",
                        (st.next_cheap - now) / US
                    ));
                }
            }
            return 0;
        }
        if active == 1 {
            return 0;
        }
        st.emergency_workers = st.emergency_workers.saturating_sub(1);
        st.tolerance_counter += 1;
        if st.tolerance_counter >= 3 {
            if b.verbose {
                log.push(format!(
                    "[busyness] {}s average busyness is at {avg}%, {} non-idle cycle(s), resetting cheaper timer",
                    s.overload, st.tolerance_counter
                ));
            }
            set_next_cheap_time(st, s, now, log);
        } else {
            if b.verbose {
                log.push(format!(
                    "[busyness] {}s average busyness is at {avg}%, {} non-idle cycle(s), adjusting cheaper timer",
                    s.overload, st.tolerance_counter
                ));
            }
            st.next_cheap = st.next_cheap.saturating_add(t);
        }
        return 0;
    }
    if can_spawn && view.backlog > b.backlog_alert && active < view.workers.len() {
        return spawn_emergency_worker(st, s, view, log);
    }
    if view.backlog > 0 {
        match st.backlog_nonzero_since {
            Some(since) => {
                let secs = (now - since) / US;
                if can_spawn && secs >= b.backlog_nonzero_secs {
                    log.push(format!(
                        "[busyness] backlog was non-zero for {secs} second(s), spawning new worker(s)"
                    ));
                    st.backlog_nonzero_since = Some(now);
                    return spawn_emergency_worker(st, s, view, log);
                }
            }
            None => {
                if b.verbose {
                    log.push(format!(
                        "[busyness] backlog is starting to fill ({})",
                        view.backlog
                    ));
                }
                st.backlog_nonzero_since = Some(now);
            }
        }
    } else if st.backlog_nonzero_since.take().is_some() && b.verbose {
        log.push("[busyness] backlog is now empty".to_string());
    }
    0
}

/// `--idle`: whether the workers have served nothing for more than `limit` seconds (uWSGI's
/// `uwsgi_master_check_idle`: a busy worker postpones the check, a new request restarts the
/// clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdleWatch {
    limit: u64,
    last_count: u64,
    since: Option<u64>,
}

impl IdleWatch {
    /// Watches for `limit` idle seconds.
    pub(crate) fn new(limit: u64) -> IdleWatch {
        IdleWatch {
            limit,
            last_count: 0,
            since: None,
        }
    }

    /// One check at `now` (unix seconds) with the requests served so far (all workers) and
    /// whether any worker is busy. `true`: idle for too long; the clock starts again from the
    /// next check.
    pub(crate) fn check(&mut self, now: u64, requests: u64, any_busy: bool) -> bool {
        if any_busy {
            return false;
        }
        let since = *self.since.get_or_insert(now);
        if requests != self.last_count {
            self.last_count = requests;
            self.since = Some(now);
            return false;
        }
        if since < now && now - since > self.limit {
            self.since = None;
            return true;
        }
        false
    }

    /// The limit, seconds.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worker ids from their numbers.
    fn ids(n: &[usize]) -> Vec<WorkerId> {
        n.iter()
            .map(|&i| WorkerId::new(i).expect("ids are 1-based"))
            .collect()
    }

    fn settings(
        algo: CheaperAlgo,
        min_workers: usize,
        step: usize,
        overload: u64,
    ) -> CheaperSettings {
        let config = Config {
            processes: 8,
            cheaper: min_workers as u32,
            cheaper_step: step as u32,
            cheaper_overload: overload,
            cheaper_algo: algo,
            ..Config::default()
        };
        CheaperSettings::from_config(&config).0.expect("cheaper on")
    }

    /// Slots from a picture: `B` busy, `i` idle, `.` cheap (no process), `s` cheap and
    /// still stopping, `r` waiting to be respawned (not cheap, no process).
    fn slots(picture: &str) -> Vec<WorkerView> {
        picture
            .chars()
            .enumerate()
            .map(|(i, c)| WorkerView {
                running: matches!(c, 'B' | 'i' | 's'),
                cheap: matches!(c, '.' | 's'),
                busy: c == 'B',
                last_spawn: 100 + i as u64,
                ..Default::default()
            })
            .collect()
    }

    fn view(workers: &[WorkerView], backlog: u64, now_us: u64) -> View<'_> {
        View {
            workers,
            backlog,
            now_us,
        }
    }

    #[test]
    fn initial_defaults_to_cheaper_and_is_clamped_as_uwsgi_clamps_it() {
        let base = Config {
            processes: 8,
            cheaper: 2,
            ..Config::default()
        };
        let (s, w) = CheaperSettings::from_config(&base);
        assert_eq!(s.map(|s| s.initial), Some(2));
        assert!(w.is_empty());
        for (initial, want, warns) in [(5, 5, false), (1, 2, true), (9, 8, true), (8, 8, false)] {
            let c = Config {
                cheaper_initial: initial,
                ..base.clone()
            };
            let (s, w) = CheaperSettings::from_config(&c);
            assert_eq!(s.map(|s| s.initial), Some(want), "{initial}");
            assert_eq!(!w.is_empty(), warns, "{initial}: {w:?}");
        }
        let off = Config { cheaper: 0, ..base };
        assert_eq!(CheaperSettings::from_config(&off).0, None);
    }

    #[test]
    fn spare_spawns_after_overload_cycles_of_all_busy_up_to_step() {
        let s = settings(CheaperAlgo::Spare, 1, 2, 3);
        let mut st = SpareState::default();
        let w = slots("BB......");
        assert_eq!(spare(&mut st, &s, &view(&w, 0, 0), true), 0);
        assert_eq!(spare(&mut st, &s, &view(&w, 0, 0), true), 0);
        assert_eq!(
            spare(&mut st, &s, &view(&w, 0, 0), true),
            2,
            "third overloaded cycle"
        );
        // the count starts again
        assert_eq!(spare(&mut st, &s, &view(&w, 0, 0), true), 0);
        // only one slot left to spawn
        let mut st = SpareState::default();
        let w = slots("BBBBBBB.");
        let got: Vec<i64> = (0..3)
            .map(|_| spare(&mut st, &s, &view(&w, 0, 0), true))
            .collect();
        assert_eq!(got, [0, 0, 1]);
        // nothing left: 0
        let mut st = SpareState::default();
        let w = slots("BBBBBBBB");
        let got: Vec<i64> = (0..3)
            .map(|_| spare(&mut st, &s, &view(&w, 0, 0), true))
            .collect();
        assert_eq!(got, [0, 0, 0]);
    }

    #[test]
    fn spare_does_not_spawn_past_the_soft_memory_limit() {
        let s = settings(CheaperAlgo::Spare, 1, 1, 1);
        let mut st = SpareState::default();
        let w = slots("BB......");
        assert_eq!(spare(&mut st, &s, &view(&w, 0, 0), false), 0);
        assert_eq!(spare(&mut st, &s, &view(&w, 0, 0), true), 1);
    }

    #[test]
    fn spare_free_worker_lowers_the_overload_count() {
        let s = settings(CheaperAlgo::Spare, 1, 1, 2);
        let mut st = SpareState::default();
        let busy = slots("BB......");
        let free = slots("Bi......");
        assert_eq!(spare(&mut st, &s, &view(&busy, 0, 0), true), 0);
        assert_eq!(spare(&mut st, &s, &view(&free, 0, 0), true), 0);
        assert_eq!(
            spare(&mut st, &s, &view(&busy, 0, 0), true),
            0,
            "count back at 1"
        );
        assert_eq!(spare(&mut st, &s, &view(&busy, 0, 0), true), 1);
    }

    #[test]
    fn spare_cheaps_one_every_overload_idle_cycles_down_to_cheaper_but_keeps_one_spare() {
        let s = settings(CheaperAlgo::Spare, 1, 1, 3);
        let mut st = SpareState::default();
        let w = slots("iii.....");
        let got: Vec<i64> = (0..6)
            .map(|_| spare(&mut st, &s, &view(&w, 0, 0), true))
            .collect();
        assert_eq!(got, [0, 0, -1, 0, 0, -1]);
        // one free worker beside busy ones is the stable state
        let mut st = SpareState::default();
        let w = slots("BBi.....");
        assert!((0..9).all(|_| spare(&mut st, &s, &view(&w, 0, 0), true) == 0));
        // at cheaper: never below
        let s2 = settings(CheaperAlgo::Spare, 2, 1, 1);
        let mut st = SpareState::default();
        let w = slots("ii......");
        assert!((0..9).all(|_| spare(&mut st, &s2, &view(&w, 0, 0), true) == 0));
    }

    #[test]
    fn spare2_keeps_cheaper_idle_workers() {
        let s = CheaperSettings {
            idle_cycles: 2,
            ..settings(CheaperAlgo::Spare2, 2, 3, 3)
        };
        let mut st = Spare2State::default();
        // no idle worker: spawn cheaper - idle = 2 (step 3)
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("BB......"), 0, 0), true),
            2
        );
        // one idle: 1
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("BBi.....",), 0, 0), true),
            1
        );
        // at most the cheap slots left
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("BBBBBBB."), 0, 0), true),
            1
        );
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("BBBBBBBB"), 0, 0), true),
            0
        );
        // at most step
        let s1 = CheaperSettings {
            step: 1,
            ..s.clone()
        };
        assert_eq!(
            spare2(&mut st, &s1, &view(&slots("BB......"), 0, 0), true),
            1
        );
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("BB......"), 0, 0), false),
            0
        );
        // exactly cheaper idle: stable
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("Bii....."), 0, 0), true),
            0
        );
        // more idle: one cheap per idle_cycles cycles
        let w = slots("iiii....");
        let got: Vec<i64> = (0..4)
            .map(|_| spare2(&mut st, &s, &view(&w, 0, 0), true))
            .collect();
        assert_eq!(got, [0, -1, 0, -1]);
        // a cycle at cheaper restarts the count
        assert_eq!(spare2(&mut st, &s, &view(&w, 0, 0), true), 0);
        assert_eq!(
            spare2(&mut st, &s, &view(&slots("ii......"), 0, 0), true),
            0
        );
        assert_eq!(spare2(&mut st, &s, &view(&w, 0, 0), true), 0);
        assert_eq!(spare2(&mut st, &s, &view(&w, 0, 0), true), -1);
    }

    #[test]
    fn backlog_follows_the_listen_queue() {
        let s = settings(CheaperAlgo::Backlog, 1, 2, 4);
        let w = slots("BB......");
        assert_eq!(backlog(&s, &view(&w, 5, 0), true), 2);
        assert_eq!(backlog(&s, &view(&w, 5, 0), false), 0);
        assert_eq!(backlog(&s, &view(&slots("BBBBBBB."), 5, 0), true), 1);
        assert_eq!(
            backlog(&s, &view(&w, 4, 0), true),
            0,
            "at the threshold: keep"
        );
        assert_eq!(backlog(&s, &view(&w, 3, 0), true), -1);
        assert_eq!(
            backlog(&s, &view(&slots("i......."), 0, 0), true),
            0,
            "at cheaper"
        );
    }

    fn busyness_settings(multiplier: u64) -> CheaperSettings {
        let mut s = settings(CheaperAlgo::Busyness, 1, 1, 1);
        s.busyness.multiplier = multiplier;
        s.busyness.penalty = 2;
        s.busyness.backlog_alert = 10;
        s.busyness.backlog_nonzero_secs = 5;
        s
    }

    /// Busyness `Cheaper` at time 0 and a helper that runs it on slots whose running time
    /// grows by `spent_us` per second for each active worker.
    struct Sim {
        cheaper: Cheaper,
        workers: Vec<WorkerView>,
        now: u64,
    }

    impl Sim {
        fn new(s: CheaperSettings, picture: &str) -> Sim {
            let workers = slots(picture);
            let (cheaper, log) = Cheaper::new(s, workers.len(), 0);
            assert!(log[0].starts_with("[busyness] settings: min=25%, max=50%, overload="));
            Sim {
                cheaper,
                workers,
                now: 0,
            }
        }

        /// One second in which each active worker spends `spent_us` in requests.
        fn second(&mut self, spent_us: u64, backlog: u64) -> Outcome {
            self.now += US;
            for w in self.workers.iter_mut().filter(|w| w.active()) {
                w.running_time_us += spent_us;
            }
            let out = self.cheaper.decide(&view(&self.workers, backlog, self.now));
            match &out.decision {
                Decision::Spawn(ids) => ids.iter().for_each(|&id| {
                    self.workers[id.index()] = WorkerView {
                        running: true,
                        last_spawn: self.now,
                        ..Default::default()
                    }
                }),
                Decision::Cheap(ids) => ids.iter().for_each(|&id| {
                    self.workers[id.index()] = WorkerView {
                        cheap: true,
                        ..Default::default()
                    }
                }),
                Decision::None => {}
            }
            out
        }

        fn active(&self) -> usize {
            self.workers.iter().filter(|w| w.active()).count()
        }
    }

    #[test]
    fn busyness_spawns_above_max_and_cheaps_below_min_after_the_multiplier() {
        let mut sim = Sim::new(busyness_settings(3), "i...");
        // full busy: one more worker each measurement
        let out = sim.second(US, 0);
        assert_eq!(out.decision, Decision::Spawn(ids(&[2])));
        assert!(
            out.log
                .iter()
                .any(|l| l
                    == "[busyness] 1s average busyness is at 100%, will spawn 1 new worker(s)"),
            "{:?}",
            out.log
        );
        sim.second(US, 0);
        sim.second(US, 0);
        assert_eq!(sim.active(), 4);
        let out = sim.second(US, 0);
        assert_eq!(out.decision, Decision::None);
        assert!(
            out.log[0].contains("but we already started maximum number of workers"),
            "{:?}",
            out.log
        );
        // idle: cheaped one at a time, each once the timer (3 s) ran out
        let mut when = Vec::new();
        for t in 0..20 {
            let out = sim.second(0, 0);
            if let Decision::Cheap(ids) = out.decision {
                assert_eq!(ids.len(), 1);
                assert!(out.log.iter().any(
                    |l| l.ends_with("running workers") && l.contains("is at 0%, cheap one of")
                ));
                when.push(t);
            }
        }
        assert_eq!(sim.active(), 1, "down to cheaper");
        // the last spawn (second 3) set the timer to 3 s later: cheaps at seconds 6, 9, 12
        assert_eq!(when, [1, 4, 7], "every overload x multiplier seconds");
    }

    #[test]
    fn busyness_penalty_raises_the_multiplier_when_a_cheap_is_undone_too_soon() {
        let mut sim = Sim::new(busyness_settings(1), "ii..");
        let out = sim.second(0, 0);
        assert_eq!(
            out.decision,
            Decision::Cheap(ids(&[1])),
            "oldest idle worker"
        );
        let out = sim.second(US, 0);
        assert_eq!(out.decision, Decision::Spawn(ids(&[1])));
        assert!(out.log.iter().any(|l| l == "[busyness] worker(s) respawned to fast, increasing cheaper multiplier to 3 (+2)"), "{:?}", out.log);
        // the cheap now waits 3 s instead of 1
        let cheaps: Vec<bool> = (0..4)
            .map(|_| matches!(sim.second(0, 0).decision, Decision::Cheap(_)))
            .collect();
        assert_eq!(cheaps, [false, false, true, false]);
    }

    #[test]
    fn busyness_in_between_pushes_the_cheap_timer_back() {
        let mut sim = Sim::new(busyness_settings(2), "ii..");
        // 30 % busy (between 25 and 50): no decision, and the idle time does not count
        for _ in 0..6 {
            assert_eq!(sim.second(300_000, 0).decision, Decision::None);
        }
        assert_eq!(sim.second(0, 0).decision, Decision::None, "timer was reset");
        assert_eq!(sim.second(0, 0).decision, Decision::Cheap(ids(&[1])));
    }

    #[test]
    fn busyness_marks_a_worker_busy_for_a_whole_interval_as_100_percent() {
        let mut s = busyness_settings(3);
        s.overload = 2;
        let mut sim = Sim::new(s, "i...");
        sim.workers[0].busy = true;
        // a request longer than the interval: running time does not move, the worker is busy
        assert_eq!(
            sim.second(0, 0).decision,
            Decision::None,
            "first second: no measurement"
        );
        assert_eq!(sim.second(0, 0).decision, Decision::Spawn(ids(&[2])));
    }

    #[test]
    fn busyness_backlog_alert_spawns_emergency_workers_between_measurements() {
        let mut s = busyness_settings(10);
        s.overload = 5;
        s.busyness.backlog_step = 2;
        let mut sim = Sim::new(s, "B...");
        let out = sim.second(US, 11);
        assert_eq!(out.decision, Decision::Spawn(ids(&[2, 3])));
        assert_eq!(
            out.log,
            ["[busyness] 11 requests in listen queue, spawning 2 emergency worker(s) (2)!"]
        );
        // the queue at the alert level: nothing
        assert_eq!(sim.second(US, 10).decision, Decision::None);
    }

    #[test]
    fn busyness_backlog_nonzero_for_long_spawns() {
        let mut s = busyness_settings(10);
        s.overload = 100; // no measurement in this test
        let mut sim = Sim::new(s, "B...");
        let got: Vec<bool> = (0..7)
            .map(|_| matches!(sim.second(US, 1).decision, Decision::Spawn(_)))
            .collect();
        // first non-empty second starts the clock; spawned 5 s later
        assert_eq!(got, [false, false, false, false, false, true, false]);
        // an empty queue stops the clock
        sim.second(US, 0);
        assert!((0..5).all(|_| sim.second(US, 1).decision == Decision::None));
    }

    #[test]
    fn busyness_with_huge_multipliers_saturates_instead_of_overflowing() {
        let mut s = busyness_settings(u64::MAX);
        s.busyness.penalty = u64::MAX;
        s.busyness.backlog_multiplier = u64::MAX;
        let mut sim = Sim::new(s, "ii..");
        for spent in [0, US, 0, 300_000, 300_000, 300_000, 0] {
            sim.second(spent, 50);
        }
        // the cheap timer is at the end of time: nothing was cheaped
        assert_eq!(sim.active(), 4);
    }

    #[test]
    fn decide_spawns_the_lowest_cheap_slots_without_a_process() {
        let s = settings(CheaperAlgo::Backlog, 1, 3, 1);
        let (mut c, log) = Cheaper::new(s, 6, 0);
        assert!(log.is_empty());
        // slot 2 is still stopping, slot 3 waits for a respawn: neither is spawned
        let w = slots("Bsr...");
        assert_eq!(
            c.decide(&view(&w, 5, 0)).decision,
            Decision::Spawn(ids(&[4, 5, 6]))
        );
    }

    #[test]
    fn decide_cheaps_the_oldest_idle_worker_never_a_busy_one() {
        let s = settings(CheaperAlgo::Backlog, 1, 1, 1);
        let (mut c, _) = Cheaper::new(s, 4, 0);
        let mut w = slots("Biii");
        w[1].last_spawn = 500;
        w[3].last_spawn = 50;
        assert_eq!(
            c.decide(&view(&w, 0, 0)).decision,
            Decision::Cheap(ids(&[4]))
        );
        // busy workers only: the decision has no one to cheap
        let w = slots("BB..");
        assert_eq!(c.decide(&view(&w, 0, 0)).decision, Decision::None);
    }

    #[test]
    fn decide_applies_the_rss_limits_before_the_algorithm() {
        let mut s = settings(CheaperAlgo::Backlog, 1, 1, 1);
        s.rss_soft = Some(1000);
        s.rss_hard = Some(2000);
        let (mut c, _) = Cheaper::new(s, 4, 0);
        let mut w = slots("ii..");
        w[0].rss = 600;
        w[1].rss = 600;
        // soft limit: a deep queue spawns nothing
        assert_eq!(c.decide(&view(&w, 50, 0)).decision, Decision::None);
        w[1].rss = 100;
        assert_eq!(
            c.decide(&view(&w, 50, 0)).decision,
            Decision::Spawn(ids(&[3]))
        );
        // hard limit: one is cheaped whatever the queue
        w[1].rss = 1500;
        let out = c.decide(&view(&w, 50, 0));
        assert_eq!(out.decision, Decision::Cheap(ids(&[1])));
        assert_eq!(
            out.log,
            ["cheaper hard rss memory limit exceeded, cheap one of 2 workers"]
        );
        // but never the last worker
        let mut one = slots("i...");
        one[0].rss = 5000;
        assert_eq!(c.decide(&view(&one, 0, 0)).decision, Decision::None);
    }

    #[test]
    fn manual_never_decides() {
        let s = settings(CheaperAlgo::Manual, 1, 1, 1);
        let (mut c, _) = Cheaper::new(s, 4, 0);
        for (w, q) in [("BB..", 100), ("iiii", 0)] {
            let w = slots(w);
            assert_eq!(c.decide(&view(&w, q, 0)), Outcome::default());
        }
    }

    #[test]
    fn idle_watch_fires_after_limit_seconds_without_a_request() {
        let mut w = IdleWatch::new(10);
        assert!(!w.check(100, 5, false));
        assert!(!w.check(110, 5, false), "exactly the limit is not past it");
        assert!(w.check(111, 5, false));
        // the clock starts again
        assert!(!w.check(112, 5, false));
        assert!(!w.check(122, 5, false));
        assert!(w.check(123, 5, false));
        // a request restarts it; a busy worker postpones the check
        let mut w = IdleWatch::new(10);
        assert!(!w.check(100, 5, false));
        assert!(!w.check(108, 6, false));
        assert!(!w.check(118, 6, false));
        assert!(!w.check(200, 6, true));
        assert!(w.check(201, 6, false));
        assert_eq!(w.limit(), 10);
    }
}
