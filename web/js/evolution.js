// The full-screen announcement shown when the Collective evolves.
//
// Milestones that unlock close together are announced one after another,
// never on top of each other. The motion itself lives in style.css: a halo
// that widens and a name that comes into focus, or a plain fade when the
// visitor prefers reduced motion. This module only sequences the phases and
// hands their durations to the CSS as custom properties.

// Phase durations in ms: fade in, stay on screen, fade out.
const FADE_IN_MS = 1600;
const HOLD_MS = 6000;
const FADE_OUT_MS = 1800;

export class EvolutionOverlay {
  // `element` contains .evolution-name and .evolution-description.
  constructor(element) {
    this.element = element;
    this.nameElement = element.querySelector('.evolution-name');
    this.descriptionElement = element.querySelector('.evolution-description');
    this.queue = [];
    this.current = null;
    this.timer = 0;

    element.style.setProperty('--evolution-fade-in', `${FADE_IN_MS}ms`);
    element.style.setProperty('--evolution-hold', `${HOLD_MS}ms`);
    element.style.setProperty('--evolution-fade-out', `${FADE_OUT_MS}ms`);

    // A click or a key press ends the announcement early, for a visitor who
    // wants the numbers back.
    element.addEventListener('click', () => this.dismiss());
    document.addEventListener('keydown', () => this.dismiss());
  }

  // Queues the announcement of `milestone` ({id, name, description}).
  announce(milestone) {
    this.queue.push(milestone);
    if (!this.current) this.showNext();
  }

  showNext() {
    this.current = this.queue.shift() ?? null;
    if (!this.current) return;

    this.nameElement.textContent = this.current.name;
    this.descriptionElement.textContent = this.current.description;
    this.element.dataset.milestoneId = this.current.id;
    this.element.hidden = false;

    // Reading offsetWidth flushes the styles of the now visible element
    // before the class goes on. Without it the element would go from hidden
    // to fully shown with no transition.
    this.element.classList.remove('is-visible', 'is-leaving');
    void this.element.offsetWidth;
    this.element.classList.add('is-visible');

    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dismiss(), FADE_IN_MS + HOLD_MS);
  }

  dismiss() {
    if (!this.current || this.element.classList.contains('is-leaving')) return;

    clearTimeout(this.timer);
    this.element.classList.add('is-leaving');
    this.timer = setTimeout(() => {
      this.element.classList.remove('is-visible', 'is-leaving');
      this.element.hidden = true;
      delete this.element.dataset.milestoneId;
      this.current = null;
      this.showNext();
    }, FADE_OUT_MS);
  }
}
