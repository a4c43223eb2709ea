import { useId, useState } from 'react';
import { HelpRow } from './SettingHelp';

/**
 * A number input that lets the user type freely ("1e-", "0.00") and commits each value that
 * parses; what does not parse, or is out of the setting's bounds (`problem`), is marked
 * invalid (aria-invalid) instead of being silently replaced.
 */
export function NumberField({
  label,
  value,
  onChange,
  hint,
  help,
  problem,
  testId,
}: {
  label: string;
  value: number;
  onChange: (v: number) => void;
  hint?: string;
  /** What the setting does (shown by the field's "?" and as its tooltip). */
  help?: string;
  /** Why the current value cannot run, if it cannot. */
  problem?: string;
  testId?: string;
}) {
  const id = useId();
  const [text, setText] = useState(String(value));
  const [shown, setShown] = useState(value);
  // Follow changes made elsewhere (a preset, a link, "load settings" of a run).
  if (!Object.is(value, shown)) {
    setShown(value);
    if (Number.isFinite(value) && Number(text) !== value) setText(String(value));
  }
  const parsed = text.trim() === '' ? NaN : Number(text);
  const invalid = !Number.isFinite(parsed) || problem !== undefined;
  return (
    <div className="field">
      <HelpRow label={label} text={help} testId={testId}>
        <label htmlFor={id}>{label}</label>
      </HelpRow>
      <input
        id={id}
        type="text"
        inputMode="decimal"
        value={text}
        aria-invalid={invalid}
        title={problem ?? help}
        aria-describedby={hint ? `${id}-hint` : undefined}
        data-testid={testId}
        onChange={(e) => {
          setText(e.target.value);
          const v = e.target.value.trim() === '' ? NaN : Number(e.target.value);
          setShown(v);
          onChange(v);
        }}
      />
      {hint && (
        <small id={`${id}-hint`} className="muted">
          {hint}
        </small>
      )}
    </div>
  );
}
