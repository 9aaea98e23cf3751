// Smooth numeric transitions drawn with requestAnimationFrame.

const reducedMotionQuery = window.matchMedia('(prefers-reduced-motion: reduce)');

// Returns whether the visitor set the system to reduce motion. The media query
// is read on every call, so a change takes effect on the next transition.
export function prefersReducedMotion() {
  return reducedMotionQuery.matches;
}

function easeOutCubic(progress) {
  return 1 - (1 - progress) ** 3;
}

// Animates a number towards a target and calls `render(value)` on each frame
// with the current value, fractional while moving and exactly the target at
// the end. A new target during a transition starts a new transition from the
// value on screen, so the number never jumps.
//
// The value jumps straight to the target when the visitor prefers reduced
// motion, when the page is hidden (browsers pause requestAnimationFrame in
// background tabs), and for the first value.
export class NumberTween {
  constructor(render, { durationMs = 900 } = {}) {
    this.render = render;
    this.durationMs = durationMs;
    this.value = null;
    this.target = null;
    this.frame = 0;
  }

  setTarget(target) {
    if (target === this.target) return;
    this.target = target;

    if (this.value === null || prefersReducedMotion() || document.hidden) {
      this.jumpTo(target);
      return;
    }

    const from = this.value;
    const startedAt = performance.now();
    cancelAnimationFrame(this.frame);

    const step = (now) => {
      // A frame's timestamp may precede startedAt, because it marks the frame's start.
      const progress = Math.min(1, Math.max(0, now - startedAt) / this.durationMs);
      this.value = progress === 1 ? target : from + (target - from) * easeOutCubic(progress);
      this.render(this.value);
      if (progress < 1) this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }

  jumpTo(target) {
    cancelAnimationFrame(this.frame);
    this.target = target;
    this.value = target;
    this.render(target);
  }
}
