/**
 * The example photos, visible from the first load: one click classifies a photo with the
 * loaded model (before one is loaded, the panel says what to load), each with its credit, and
 * the button that opens the presenter view.
 */
import { useInference } from '../inferenceStore';
import { classifyExample } from './exampleActions';
import { EXAMPLE_IMAGES, exampleUrl } from './exampleImages';
import { usePresenter } from './presenterStore';
import './presenter.css';

export function ExamplesPanel() {
  const loaded = useInference((s) => s.loaded);
  const busy = useInference((s) => s.busy);
  const result = useInference((s) => s.result);
  const open = usePresenter((s) => s.open);
  return (
    <section className="panel" aria-labelledby="examples-title" data-testid="examples">
      <div className="examples-head">
        <h3 id="examples-title">Example photos</h3>
        <button
          type="button"
          className="small"
          disabled={!loaded}
          title={loaded ? 'One photo at a time, large, for a projector' : 'Load a model first'}
          onClick={open}
          data-testid="present"
        >
          Present
        </button>
      </div>
      {loaded ? (
        <p className="muted small">Click a photo to run {loaded.label} on it.</p>
      ) : (
        <p className="muted small" data-testid="examples-hint">
          Load a model first to classify these: drop or give the URL of a <code>model.onnx</code>{' '}
          exported from Apple’s AIM checkpoints (<code>npm run export</code>), or export a run
          trained here, in <strong>Load a model</strong>.
        </p>
      )}
      <ul className="example-row">
        {EXAMPLE_IMAGES.map((example, i) => (
          <li key={example.file}>
            <figure>
              <button
                type="button"
                className="example-thumb"
                disabled={!loaded || busy !== undefined}
                aria-pressed={loaded !== undefined && result?.imageName === example.title}
                onClick={() => void classifyExample(i)}
                data-testid="example"
                data-file={example.file}
              >
                <img src={exampleUrl(example)} alt={example.title} height={96} loading="eager" />
              </button>
              <figcaption>
                {example.title}
                <span className="example-credit" data-testid="example-credit">
                  {example.credit}
                </span>
              </figcaption>
            </figure>
          </li>
        ))}
      </ul>
    </section>
  );
}
