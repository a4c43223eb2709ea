import type { SerializedError } from '../worker/protocol';
import { explainError } from './errors';

/** A plain sentence about an error, what to do, and the technical detail behind a click. */
export function ErrorNotice({
  error,
  context,
  testId = 'error-notice',
}: {
  error: SerializedError;
  context?: string;
  testId?: string;
}) {
  const { headline, advice } = explainError(error);
  return (
    <div className="notice bad-notice" role="alert" data-testid={testId}>
      <p>
        <strong>{headline}</strong>
        {context && <> {context}</>}
      </p>
      {advice && <p>{advice}</p>}
      <details>
        <summary>Technical detail</summary>
        <pre>
          {error.name}: {error.message}
        </pre>
      </details>
    </div>
  );
}
