// The terminal tabs of a runbook that spans hosts: one tab per role, each showing that role's
// terminal (WAI-ARIA tabs: click, or Left/Right/Home/End on the tab list; the selected tab is
// the one in the tab order). Showing a panel lets its terminal fit its now visible box.

export class RoleTabs {
  private readonly tabs: HTMLElement[];

  constructor(list: HTMLElement, private readonly onShow: (role: string) => void = () => {}) {
    this.tabs = [...list.querySelectorAll<HTMLElement>('[role="tab"]')];
    list.addEventListener('click', (ev) => {
      const tab = ev.target instanceof Element ? ev.target.closest<HTMLElement>('[role="tab"]') : null;
      if (tab) this.select(tab);
    });
    list.addEventListener('keydown', (ev) => this.onKey(ev));
  }

  /** Shows the tab's panel, hides the others; `focus` moves the focus to the tab (keyboard). */
  select(tab: HTMLElement, focus = false): void {
    for (const t of this.tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(t.getAttribute('aria-controls') ?? '');
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    this.onShow(tab.dataset.roleTab ?? '');
  }

  /** The selected role (the first until another is chosen). */
  get selected(): string | undefined {
    return this.tabs.find((t) => t.getAttribute('aria-selected') === 'true')?.dataset.roleTab;
  }

  private onKey(ev: KeyboardEvent): void {
    const i = this.tabs.findIndex((t) => t === document.activeElement);
    if (i < 0) return;
    const n = this.tabs.length;
    const to = ev.key === 'ArrowRight' ? (i + 1) % n : ev.key === 'ArrowLeft' ? (i - 1 + n) % n : ev.key === 'Home' ? 0 : ev.key === 'End' ? n - 1 : -1;
    if (to < 0) return;
    ev.preventDefault();
    this.select(this.tabs[to]!, true);
  }
}
