// The warning before an automatic sign-out (idle.ts, ADR 0127): a modal alert dialog (native <dialog>:
// focus moves into it, the page behind is inert, Escape closes it) that counts down the seconds left.
// The dialog's description is read when it opens; the count itself is not announced every second (a
// screen reader would say nothing else for a minute) but at 30 and 10 seconds left, in a live region.
import { h } from './dom.ts';

export interface IdleDialog {
  readonly el: HTMLDialogElement;
  /** Opens the dialog, or moves its count on; 0: due, waiting for a transaction already sent. */
  show(secondsLeft: number): void;
  close(): void;
}

const ANNOUNCED = new Set([30, 10]);

export function idleDialog(actions: { stay: () => void; signOut: () => void }): IdleDialog {
  const count = h('strong', { class: 'countdown' });
  const text = h('p', { id: 'idle-dialog-text' });
  const spoken = h('p', { class: 'sr-only', 'aria-live': 'assertive' });
  const stay = h(
    'button',
    { type: 'button', autofocus: true, onclick: () => actions.stay() },
    'Stay signed in',
  );
  const el = h(
    'dialog',
    {
      class: 'idle-dialog',
      role: 'alertdialog',
      'aria-labelledby': 'idle-dialog-title',
      'aria-describedby': 'idle-dialog-text',
    },
    h('h2', { id: 'idle-dialog-title' }, 'Are you still there?'),
    text,
    spoken,
    h(
      'div',
      { class: 'actions' },
      stay,
      h('button', { type: 'button', class: 'quiet', onclick: () => actions.signOut() }, 'Sign out now'),
    ),
  );
  // Escape is the user answering: the same as "Stay signed in" (the key press is activity anyway).
  el.addEventListener('cancel', (e) => {
    e.preventDefault();
    actions.stay();
  });

  const setText = (seconds: number) => {
    if (seconds === 0) {
      text.replaceChildren(
        'This screen has had no activity. You will be signed out as soon as the transaction you sent is answered.',
      );
      return;
    }
    count.textContent = `${seconds} second${seconds === 1 ? '' : 's'}`;
    text.replaceChildren(
      'This screen has had no activity. To protect patients’ data, you will be signed out in ',
      count,
      ', and this tab will forget your key and what it showed.',
    );
  };

  return {
    el,
    show(seconds) {
      setText(seconds);
      if (!el.open) {
        spoken.textContent = '';
        el.showModal();
        stay.focus();
      } else if (ANNOUNCED.has(seconds)) {
        spoken.textContent = `${seconds} seconds until you are signed out.`;
      }
    },
    close() {
      if (el.open) el.close();
      spoken.textContent = '';
    },
  };
}
