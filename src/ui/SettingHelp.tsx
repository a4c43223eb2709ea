/**
 * Help on every setting, readable without a mouse: a "?" beside the label shows what the
 * setting does and, where the AIM v1 recipe has one, the paper's value (issue 15: "help text
 * on every setting"). A tooltip alone reached neither touch screens nor keyboards.
 */
import { useId, useState, type ReactNode } from 'react';
import { SETTINGS_SCHEMA, type SettingKey } from '../training/settingsSchema';

function paperValue(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return String(v);
  return String(v);
}

/** What the setting does, then the paper's value where there is one. */
export function settingHelpText(key: SettingKey): string {
  const spec = SETTINGS_SCHEMA[key];
  const paper = spec.paper;
  return paper === undefined
    ? spec.help
    : `${spec.help} The paper’s recipe (AIM v1): ${paperValue(paper)}.`;
}

/** The "?" button; `children` is rendered where the text should appear when open. */
export function useHelpToggle(label: string, text: string | undefined, testId?: string) {
  const id = useId();
  const [open, setOpen] = useState(false);
  if (!text) return { button: null, panel: null };
  const button = (
    <button
      type="button"
      className="help-toggle"
      aria-expanded={open}
      aria-controls={id}
      aria-label={`About ${label}`}
      title={text}
      onClick={() => setOpen(!open)}
      data-testid={testId ? `${testId}-help` : undefined}
    >
      ?
    </button>
  );
  const panel = open ? (
    <p
      id={id}
      className="field-help small"
      data-testid={testId ? `${testId}-help-text` : undefined}
    >
      {text}
    </p>
  ) : null;
  return { button, panel };
}

/**
 * A field's label (given as `children`: a <label>, or a checkbox's whole label) with its "?"
 * beside it and, when open, the help text under it.
 */
export function HelpRow({
  label,
  text,
  testId,
  children,
}: {
  label: string;
  text: string | undefined;
  testId?: string;
  children: ReactNode;
}) {
  const { button, panel } = useHelpToggle(label, text, testId);
  return (
    <>
      <span className="label-row">
        {children}
        {button}
      </span>
      {panel}
    </>
  );
}
