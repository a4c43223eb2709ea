/**
 * A link to one run in the Runs tab, for every place that names a run (issue 15: "a run's
 * page link from every place that names a run"). A real link (`#tab=runs&run=<id>`: it can be
 * copied, opened in a new tab, bookmarked) that switches the tab in place when clicked.
 */
import type { ReactNode } from 'react';
import { useSettings } from './settingsStore';
import { runHash } from './urlSettings';

export function RunLink({
  runId,
  children = 'open in Runs',
  testId = 'run-link',
}: {
  runId: string;
  children?: ReactNode;
  testId?: string;
}) {
  const showRun = useSettings((s) => s.showRun);
  return (
    <a
      href={runHash(runId)}
      className="run-link"
      data-testid={testId}
      onClick={(e) => {
        // A plain click stays in this page; a modified click (new tab, copy) keeps the link.
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        showRun(runId);
      }}
    >
      {children}
    </a>
  );
}
