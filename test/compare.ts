/** Shared comparisons for kernel tests (defined beside the references, used by the browser cases too). */
export { mixedTolerance, worstRatio } from '../src/reference/compare';
