import { useId, useState } from 'react';

/**
 * A number input that lets the user type freely ("1e-", "0.00") and commits each value that
 * parses; what does not parse is shown as invalid instead of being silently replaced.
 */
export function NumberField({
  label,
  value,
  onChange,
  hint,
  testId,
}: {
  label: string;
  value: number;
  onChange: (v: number) => void;
  hint?: string;
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
  const invalid = !Number.isFinite(parsed);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode="decimal"
        value={text}
        aria-invalid={invalid}
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
