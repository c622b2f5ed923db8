"""The live audio tracker's tunable settings, each with what it was tuned on and why it has its value."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrackerParams"]


@dataclass(frozen=True)
class TrackerParams:
    """The tracker's tunable settings (tuned on the non-held-out part of `CORPUS` only)."""

    commit_lead: float = 0.03  # s: commit each beat at least this long before it (plus ≤ one block)
    # s between phase fits while locked: every block (23 ms) cost a third of the tracker's CPU. Spaced to
    # 0.045–0.09 s the 58 tuning and spent held-out tracks scored the same (F 0.9904, CMLt 0.982, same
    # locks) at 14–26 % less CPU; 0.09 s held a grid 1.5 % slow once the music stopped (a test), 0.06 did not.
    phase_every: float = 0.06
    tempo_every: float = 0.25  # s between tempo estimates
    tempo_window: float = 8.0  # s of envelope each tempo estimate looks at
    min_window: float = 2.0  # s of sound needed before the first estimate
    pulse_lock: float = 0.22  # autocorrelation at the beat period needed to lock (noise stays ~0)
    pulse_hold: float = 0.07  # below this a locked tracker holds its grid (breakdown, silence)
    switch_after: int = 3  # consecutive agreeing estimates of a new tempo before switching to it
    hold_seconds: float = 24.0  # hold the last good grid this long, then say "no-beat"
    phase_beats: int = 8  # beats the phase comb looks back over
    phase_decay: float = 0.8  # weight of each older beat in the comb
    period_spread: float = 0.03  # the comb's period may differ this much (relative) from the tempo estimate
    onset_lead: float = 0.0116  # s: flux peaks this long before the beat is heard (a quarter window)
    guard_frames: int = 3  # newest frames the comb ignores (an onset still rising)
    continuity: float = 0.3  # how much less a phase half a beat off the running grid scores
    # The quick first estimate (`quick_tempo`): the long estimator needs ~2 s of drums before its 4-beat
    # comb sees anything, so while listening a short window with one lag (and its double) gives a
    # provisional tempo in the class range; the long estimate takes over once locked.
    quick_window: float = 2.5  # s of envelope the quick estimate looks at
    quick_min: float = 0.6  # s of sound needed before the first quick estimate
    quick_lock: float = 4.5  # z-score of the quick estimate's pulse needed to lock (noise: below ~3.5)
    long_after: float = 4.0  # s of history before the long estimate replaces the quick one while locked
    # Until then a quick lock gives way to a quick estimate that outscores it on the same window:
    switch_margin: float = 2.0  # its pulse at least this many times the locked tempo's (and ≥ quick_lock)
    double_tie: float = 0.9  # or it is the double tempo and its pulse is at least this share of the lock's
    early_switch_after: int = 2  # agreeing estimates in a row before such a switch
    # Percussive evidence before any lock: a pad swelling or beating in an intro has a pulse too (z ~ 11 at
    # ~115 BPM), but no hits. A hit (`hits`) raises the kick band or the hats' band by `hit_rise` dB within
    # two frames (23 ms), to `hit_rise` dB above its peak of the last `hit_memory` s, that band holding at
    # least `hit_low_share` / `hit_high_share` dB of the frame's power. Counted on the whole frame's energy
    # instead, a pad re-attacking its chords (once a bar or a beat, out of the last chord's release) made a
    # hit of every chord, and the tracker took its pulse for a beat (chords a bar, rising over 0.3 s: 8 of
    # 12 breakdowns ended on a period 11-34 % long). Now its chords only climb back to the level the memory
    # holds, its notes stay out of the kick band (at most -11 dB of the frame there; kicks -6 dB) and its
    # harmonics never rose to a new peak in the hats' band (hats: -45 to -2 dB). Lock only with `hit_count`
    # hits in the quick window (drums: 4 or more in every window of the tuning styles, and of a waltz at
    # 88 BPM, one kick a bar, which the whole-frame test had counted 1 in most windows).
    hit_rise: float = 3.0
    hit_memory: float = 0.14  # s: spans a chord's release (~0.1 s) and the next one's steepest rise
    hit_low_share: float = -7.0
    hit_high_share: float = -30.0
    hit_count: int = 2
    # Holding the grid once locked: a phase that moves the grid by more than `jump_tol` of a beat (a kick on
    # the "and" of 3 winning the comb while a crash masks the hats) replaces it only once it has won every
    # update for `jump_after` s; meanwhile the grid runs on. An octave switch waits `octave_after` estimates.
    jump_tol: float = 0.15
    jump_after: float = 2.5
    octave_after: int = 16
    # ... unless the drums settle it (`fast_beat_coverage` over `cover_window` s): up at once when they hit
    # on `cover_fast` of the faster grid's beats, down at once when they hit on fewer than `cover_slow` of
    # the running grid's; and a lock whose own beats stay this empty (< `cover_empty`) for `sparse_after`
    # estimates halves its tempo even when the estimate agrees with it.
    cover_window: float = 4.0
    cover_fast: float = 0.7
    cover_slow: float = 0.6
    cover_empty: float = 0.5
    sparse_after: int = 8
    # The half-beat check (`_check_half_beat`): over `half_beats` beats, the half-beat points must carry
    # `half_margin` times the beats' onset, `half_after` checks (0.25 s apart) in a row.
    half_beats: int = 16
    half_margin: float = 1.15
    half_after: int = 4
    # The held grid (`_hold_grid`): the median period of the phase fits made on the drums over `steady_window`
    # s, through the newest of those fits within `steady_tol` of it. The fits of the ≤ 2.5 s between the
    # drums stopping and the quick window emptying of hits may be off (a 1.5 % step): the window keeps
    # them a minority.
    steady_window: float = 8.0
    steady_tol: float = 0.002
