import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildRunReport } from '../../report/build.js';
import { renderReportHtml } from '../../report/html.js';
import { renderReportMarkdown } from '../../report/markdown.js';
import { openRun, stateDir } from '../../run/store.js';
import { FerryError } from '../../util/errors.js';
import { toJson } from '../../util/output.js';
import { addTargetContextOption, parseOutputFormat } from '../context.js';
import { addJournalTrustOptions } from '../journal-options.js';
import { journalWarning, recordsToShow, verifyCommandJournal } from '../journal-verdict.js';

/**
 * `ferry report [run]`: the run's scorecard and timelines, from its journal and plan, for any
 * run in any state. A journal that does not verify still gets its report — that is when an
 * incident needs one most — with the verification failure at its top (and in `journal` of the
 * JSON), a warning on stderr and exit code 1, as `ferry status` does: never passed off as proof.
 */
export function register(program: Command): void {
  addTargetContextOption(addJournalTrustOptions(program
    .command('report [run]')
    .description('the scorecard and timelines of a run (the latest by default): failed requests per side, MTTD/MTTR, traffic on the target in the planned window, parity, write pauses, stage durations, journal verification; exits 1 when its journal does not verify')
    .option('--state-dir <dir>', 'where runs are kept (default .ferry or $FERRY_STATE_DIR)')
    .option('-o, --output <format>', 'md (Markdown), html (one self-contained file with plots) or json', 'md')
    .option('--out <file>', 'write the report to this file instead of stdout')
    .addHelpText('after', '\nExamples:\n  ferry report shop-20261130-041900 -o html --out report.html\n  ferry report -o md >> incident.md\n')))
    .action(async (id: string | undefined, options: { stateDir?: string; output: string; out?: string }, command: Command) => {
      const format = parseOutputFormat(options.output, ['md', 'html', 'json'] as const);
      const { files, plan } = openRun(stateDir(options.stateDir), id);
      const checked = await verifyCommandJournal(command, files, plan);
      const { verify } = checked;
      // A journal that does not verify is reported as what it claims, under its verification failure.
      const report = buildRunReport({ runId: files.id, plan, records: recordsToShow(files.journal, checked), verify });
      const text = format === 'json' ? toJson(report) : format === 'html' ? renderReportHtml(report) : renderReportMarkdown(report);
      const warning = journalWarning(files.journal, verify);
      if (warning) process.stderr.write(warning);
      if (options.out) {
        try {
          writeFileSync(options.out, text);
        } catch (error) {
          throw new FerryError('usage', `cannot write the report to ${options.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { location: { field: '--out' }, fix: 'name a file in a directory that exists and you can write' });
        }
        process.stderr.write(`report of run ${files.id} written to ${options.out}\n`);
      } else process.stdout.write(text);
      if (!verify.ok) process.exitCode = 1;
    });
}
