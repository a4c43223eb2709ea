/**
 * A box that takes files dropped on it, with file-picker buttons for the keyboard and for
 * people who do not drag: the dataset picker, the model loader and the image classifier all
 * use it. Each button is a label around a visually hidden file input, so Tab reaches the
 * input, Enter or Space opens the browser's picker, and the label shows the focus ring.
 */
import { Fragment, useState, type ReactNode } from 'react';

export interface FilePicker {
  /** The button's text ("Choose files…"). */
  label: string;
  accept?: string;
  multiple?: boolean;
  /** Pick a whole folder (each File's webkitRelativePath holds its path below it). */
  directory?: boolean;
  testId?: string;
  onFiles: (files: File[]) => void;
}

export interface DropZoneProps {
  /** The sentence above the buttons: what to drop. */
  prompt: ReactNode;
  /**
   * Called inside the drop event, so a caller that walks dropped folders
   * (DataTransferItem.webkitGetAsEntry) can do so before the transfer is emptied.
   */
  onDrop: (data: DataTransfer) => void;
  pickers: readonly FilePicker[];
  /** Disables the buttons (a fieldset around the zone does the same). */
  disabled?: boolean;
  /** Status lines, results or errors shown inside the box. */
  children?: ReactNode;
}

export function DropZone({ prompt, onDrop, pickers, disabled, children }: DropZoneProps) {
  const [over, setOver] = useState(false);
  return (
    <div
      className={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        // Without preventDefault the browser opens the dropped file in place of the page.
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        onDrop(e.dataTransfer);
      }}
    >
      <p>{prompt}</p>
      {pickers.map((picker, i) => (
        <Fragment key={picker.label}>
          {i > 0 && ' '}
          <FilePickerButton picker={picker} disabled={disabled} />
        </Fragment>
      ))}
      {children}
    </div>
  );
}

function FilePickerButton({ picker, disabled }: { picker: FilePicker; disabled?: boolean }) {
  // webkitdirectory is not among React's input attributes; spread, it reaches the DOM as is.
  const directory = picker.directory ? { webkitdirectory: '' } : {};
  return (
    <label className="file-button">
      {picker.label}
      <input
        type="file"
        multiple={picker.multiple}
        accept={picker.accept}
        disabled={disabled}
        data-testid={picker.testId}
        {...directory}
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          // Cleared so that choosing the same files again loads them again.
          e.target.value = '';
          picker.onFiles(files);
        }}
      />
    </label>
  );
}
