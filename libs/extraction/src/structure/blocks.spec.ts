import { type Block, renderBlocks, renderTable } from './blocks';

describe('renderBlocks', () => {
  it('separates blocks by a blank line and renders headings as bare lines', () => {
    const { text } = renderBlocks([
      { kind: 'heading', level: 1, text: 'Guide' },
      { kind: 'paragraph', text: 'Read   this\tfirst.' },
      { kind: 'quote', text: 'Quoted  words' },
    ]);
    expect(text).toBe('Guide\n\nRead this first.\n\nQuoted words');
  });

  it('records a section at each heading, nesting by level and replacing at the same or a higher level', () => {
    const blocks: Block[] = [
      { kind: 'paragraph', text: 'Preface.' },
      { kind: 'heading', level: 1, text: 'Install' },
      { kind: 'paragraph', text: 'Steps.' },
      { kind: 'heading', level: 2, text: 'Linux' },
      { kind: 'heading', level: 3, text: 'Debian' },
      { kind: 'heading', level: 2, text: 'macOS' },
      { kind: 'heading', level: 1, text: 'Usage' },
    ];
    const { text, sections, endPath } = renderBlocks(blocks);
    expect(sections).toEqual([
      { offset: text.indexOf('Install'), path: ['Install'] },
      { offset: text.indexOf('Linux'), path: ['Install', 'Linux'] },
      { offset: text.indexOf('Debian'), path: ['Install', 'Linux', 'Debian'] },
      { offset: text.indexOf('macOS'), path: ['Install', 'macOS'] },
      { offset: text.indexOf('Usage'), path: ['Usage'] },
    ]);
    expect(endPath).toEqual(['Usage']);
    // Offsets point at the heading's own line.
    for (const s of sections) expect(text.slice(s.offset).startsWith(s.path.at(-1)!)).toBe(true);
  });

  it('starts a page under a carried-over path with an entry at offset 0, superseded by a heading there', () => {
    const carried = renderBlocks(
      [
        { kind: 'paragraph', text: 'More steps.' },
        { kind: 'heading', level: 3, text: 'Arch' },
      ],
      {
        startPath: ['Install', 'Linux'],
        startLevels: [1, 2],
      },
    );
    expect(carried.sections).toEqual([
      { offset: 0, path: ['Install', 'Linux'] },
      { offset: 13, path: ['Install', 'Linux', 'Arch'] },
    ]);
    const headed = renderBlocks([{ kind: 'heading', level: 1, text: 'Usage' }], { startPath: ['Install'] });
    expect(headed.sections).toEqual([{ offset: 0, path: ['Usage'] }]);
  });

  it('counts a start path without levels as levels 1, 2, …', () => {
    const { sections } = renderBlocks([{ kind: 'heading', level: 2, text: 'B2' }], { startPath: ['A', 'B'] });
    expect(sections).toEqual([{ offset: 0, path: ['A', 'B2'] }]);
  });

  it('renders bullet, numbered and nested lists', () => {
    const { text } = renderBlocks([
      { kind: 'list', items: ['milk', 'eggs'] },
      { kind: 'list', items: ['one', 'one-a', 'one-b', 'two'], ordered: true, levels: [0, 1, 1, 0] },
    ]);
    expect(text).toBe('- milk\n- eggs\n\n1. one\n  1. one-a\n  2. one-b\n2. two');
  });

  it('keeps a code block verbatim apart from trailing spaces and outer blank lines', () => {
    const { text } = renderBlocks([{ kind: 'code', text: '\n  if (x)  \n    y();\n\n' }]);
    expect(text).toBe('  if (x)\n    y();');
  });

  it('strips NUL characters everywhere and drops blocks left empty', () => {
    const { text, sections } = renderBlocks([
      { kind: 'heading', level: 1, text: 'Ti\0tle' },
      { kind: 'paragraph', text: '\0 \0' },
      { kind: 'paragraph', text: 'a\0b' },
    ]);
    expect(text).toBe('Title\n\nab');
    expect(sections).toEqual([{ offset: 0, path: ['Title'] }]);
  });

  it('keeps a deliberate line break inside a paragraph, collapsing the spaces around it', () => {
    expect(renderBlocks([{ kind: 'paragraph', text: '1 Main St  \n  Springfield\n\n' }]).text).toBe(
      '1 Main St\nSpringfield',
    );
  });
});

describe('renderTable', () => {
  it('keys each row by the header so a row reads alone, leaving empty cells out', () => {
    expect(
      renderTable(
        [
          ['Name', 'Age', 'City'],
          ['Ann', '42', 'Oslo'],
          ['Bob', '', 'Rome'],
        ],
        true,
      ),
    ).toBe('Name | Age | City\nName: Ann | Age: 42 | City: Oslo\nName: Bob | City: Rome');
  });

  it('joins cells with pipes when there is no header, or only one column', () => {
    expect(
      renderTable(
        [
          ['a', 'b'],
          ['c', 'd'],
        ],
        false,
      ),
    ).toBe('a | b\nc | d');
    expect(renderTable([['Name'], ['Ann']], true)).toBe('Name\nAnn');
  });

  it('uses a bare value where the header cell is empty and drops rows with no values', () => {
    expect(
      renderTable(
        [
          ['Name', '', 'Age'],
          ['Ann', 'x', '3'],
          ['', '', ''],
        ],
        true,
      ),
    ).toBe('Name | Age\nName: Ann | x | Age: 3');
  });
});
