// Draws a CollectiveState into the page.
//
// For tests and tools the page states the exact figures in the DOM while the
// visible text may still be moving: `data-value` on #witnesses, #peak and
// #total-time contains the latest value from the server (seconds for the total),
// and `data-connection` on <body> is "connected" or "waiting".

import { formatCount, formatDuration } from './format.js';
import { NumberTween } from './tween.js';

// The witness count at which the background glow reaches full strength.
const FULL_GLOW_WITNESSES = 1e6;

export class CollectiveView {
  constructor(doc = document) {
    this.document = doc;
    this.witnesses = doc.getElementById('witnesses');
    this.witnessesLabel = doc.getElementById('witnesses-label');
    this.peak = doc.getElementById('peak');
    this.totalTime = doc.getElementById('total-time');
    this.milestoneList = doc.getElementById('milestones');
    this.milestoneSummary = doc.getElementById('milestone-summary');

    this.witnessTween = new NumberTween((value) => { this.witnesses.textContent = formatCount(value); });
    this.peakTween = new NumberTween((value) => { this.peak.textContent = formatCount(value); });
    // The largest total shown since the last welcome. The visible total
    // never goes back below it, even when a tick lands under the estimate.
    this.shownTotalSeconds = null;
  }

  // Shows whether the page is joined to the Collective. While waiting, the
  // last known figures stay on screen, dimmed.
  showConnection(connected) {
    this.document.body.dataset.connection = connected ? 'connected' : 'waiting';
  }

  // Reveals the figures, which style.css hides until the first welcome.
  revealFigures() {
    this.document.body.classList.add('has-state');
  }

  // Shows the witness count and the peak.
  showCounts(state) {
    const witnesses = state.concurrentConnections;
    if (witnesses !== null) {
      this.witnesses.dataset.value = String(witnesses);
      this.witnessTween.setTarget(witnesses);
      this.witnesses.style.setProperty('--counter-chars', String(formatCount(witnesses).length));
      this.witnessesLabel.textContent = witnesses === 1 ? 'witness now' : 'witnesses now';
      this.document.title = `${formatCount(witnesses)} · The Collective`;

      const glow = Math.min(1, Math.log10(witnesses + 1) / Math.log10(FULL_GLOW_WITNESSES));
      this.document.documentElement.style.setProperty('--presence', glow.toFixed(3));
    }
    if (state.peakConnections !== null) {
      this.peak.dataset.value = String(state.peakConnections);
      this.peakTween.setTarget(state.peakConnections);
    }
  }

  // Forgets the shown total, so that the next showTotalTime() may show less
  // than before. Called on every welcome, since a reset or restored store
  // can legitimately hold a smaller total than the page has shown.
  resetTotalTime() {
    this.shownTotalSeconds = null;
  }

  // Shows the total witnessed time: the server's figure in data-value, and
  // in words the figure estimated for this moment.
  showTotalTime(state, now = performance.now()) {
    if (state.totalConnectionSeconds === null) return;
    this.totalTime.dataset.value = String(state.totalConnectionSeconds);

    const estimate = state.estimateTotalSeconds(now);
    this.shownTotalSeconds = Math.max(this.shownTotalSeconds ?? 0, estimate);
    const text = formatDuration(this.shownTotalSeconds);
    if (this.totalTime.textContent !== text) this.totalTime.textContent = text;
  }

  // Lists the unlocked milestones by name. `newId`, if given, is the id of a
  // milestone that has just unlocked, and its entry is highlighted.
  showMilestones(state, newId = null) {
    const unlocked = state.unlockedMilestoneList();
    const items = unlocked.map((milestone) => {
      const item = this.document.createElement('li');
      item.className = 'milestone';
      item.dataset.milestoneId = milestone.id;
      item.textContent = milestone.name;
      item.title = milestone.description;
      if (milestone.id === newId) item.classList.add('is-new');
      return item;
    });
    this.milestoneList.replaceChildren(...items);

    const total = state.milestones.size;
    this.milestoneSummary.textContent = total > 0 ? `${unlocked.length} of ${total}` : '';
  }
}
