/**
 * Drop or pick an image: the worker preprocesses it as ml-aim does (shorter side to 256
 * bicubic, centre crop 224, ImageNet mean/std — scaled for smaller models), runs the model,
 * and this panel shows the crop the model saw, the patch features as a PCA picture, the top-5
 * classes when the model has a probe, and the latency of the run.
 */
import { DropZone } from '../DropZone';
import { ErrorNotice } from '../ErrorNotice';
import { useInference } from '../inferenceStore';
import { RgbCanvas } from './RgbCanvas';

export function ClassifyPanel() {
  const loaded = useInference((s) => s.loaded);
  const result = useInference((s) => s.result);
  const error = useInference((s) => s.classifyError);
  const busy = useInference((s) => s.busy);
  const classify = useInference((s) => s.classify);
  if (!loaded) return null;

  const submit = (file: File | undefined) => {
    if (file) void classify(file, file.name);
  };

  return (
    <section className="panel" aria-labelledby="classify-title">
      <h3 id="classify-title">Run it on an image</h3>
      <DropZone
        prompt="Drop an image here, or:"
        onDrop={(data) => submit(data.files[0])}
        disabled={busy !== undefined}
        pickers={[
          {
            label: 'Choose an image…',
            accept: 'image/*',
            testId: 'classify-input',
            onFiles: (files) => submit(files[0]),
          },
        ]}
      >
        {busy === 'classifying' && <p role="status">Running the model…</p>}
      </DropZone>
      {error && <ErrorNotice error={error} context="The image was not classified." />}
      {result && (
        <div className="classify-result" data-testid="classify-result">
          <figure>
            <RgbCanvas image={result.input} size={224} label="The centre crop the model saw" />
            <figcaption>
              {result.imageName}: the {result.input.width}×{result.input.height} crop the model saw
            </figcaption>
          </figure>
          <figure>
            <RgbCanvas
              image={result.pca.image}
              size={224}
              label="Patch features, first three principal components as RGB"
              testId="pca-canvas"
            />
            <figcaption>
              Patch features as colour (PCA of {result.featureDims[1]} patches ×{' '}
              {result.featureDims[2]} dimensions): components explain{' '}
              {result.pca.explained.map((v) => `${(100 * v).toFixed(0)} %`).join(', ')} of the
              variance
            </figcaption>
          </figure>
          <div>
            {result.top ? (
              <>
                {result.topSource === 'k-NN' && (
                  <p className="muted small">Classes from the k-NN probe of the run’s data:</p>
                )}
                <ol className="top-classes" data-testid="top-classes">
                  {result.top.map((t) => (
                    <li key={t.index} data-class-index={t.index}>
                      <span className="class-name">{t.name}</span>
                      <meter min={0} max={1} value={t.probability} />
                      <span className="probability">{(100 * t.probability).toFixed(1)} %</span>
                    </li>
                  ))}
                </ol>
              </>
            ) : (
              <p className="muted">
                This model has no classification head (a pre-training checkpoint): it gives features
                only.
              </p>
            )}
            <p data-testid="latency">
              {result.latencyMs.toFixed(1)} ms on {result.backend === 'webgpu' ? 'WebGPU' : 'wasm'}
              {result.run === 1 && ' (first run: includes compiling the shaders)'}
            </p>
          </div>
        </div>
      )}
    </section>
  );
}
