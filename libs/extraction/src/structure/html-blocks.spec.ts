import { renderBlocks } from './blocks';
import { parseHtmlDocument, parseXhtmlDocument } from './dom';
import { htmlToBlocks } from './html-blocks';

const blocksOf = (body: string) =>
  htmlToBlocks(parseHtmlDocument(`<!doctype html><html><body>${body}</body></html>`));

describe('htmlToBlocks', () => {
  it('reads headings, paragraphs, lists, code and quotes in document order', () => {
    expect(
      blocksOf(`
        <h1>Title</h1>
        <p>Some   <b>bold</b>
           text.</p>
        <ul><li>one</li><li>two <ol><li>two-a</li></ol></li></ul>
        <ol><li><p>first</p></li><li>second</li></ol>
        <pre><code>let x = 1;
  x++;</code></pre>
        <blockquote><p>Quoted.</p><p>Twice.</p></blockquote>
        <h3>Deep</h3>`),
    ).toEqual([
      { kind: 'heading', level: 1, text: 'Title' },
      { kind: 'paragraph', text: 'Some bold text.' },
      { kind: 'list', items: ['one', 'two', 'two-a'], ordered: false, levels: [0, 0, 1] },
      { kind: 'list', items: ['first', 'second'], ordered: true },
      { kind: 'code', text: 'let x = 1;\n  x++;' },
      { kind: 'quote', text: 'Quoted.\nTwice.' },
      { kind: 'heading', level: 3, text: 'Deep' },
    ]);
  });

  it('takes the header from thead or from a row of th cells', () => {
    expect(
      blocksOf(
        '<table><thead><tr><th>Name</th><th>Age</th></tr></thead><tbody><tr><td>Ann</td><td>42</td></tr></tbody></table>',
      ),
    ).toEqual([
      {
        kind: 'table',
        rows: [
          ['Name', 'Age'],
          ['Ann', '42'],
        ],
        header: true,
      },
    ]);
    expect(
      blocksOf('<table><tr><th>K</th><th>V</th></tr><tr><td>a</td><td>1</td></tr></table>')[0],
    ).toMatchObject({
      header: true,
    });
    expect(blocksOf('<table><tr><td>a</td><td>1</td></tr><tr><td></td><td></td></tr></table>')).toEqual([
      { kind: 'table', rows: [['a', '1']] },
    ]);
  });

  it('turns <br> into a line break and block elements inside divs into their own paragraphs', () => {
    expect(blocksOf('<div>Line one<br>Line two<div>Inner</div>tail</div>')).toEqual([
      { kind: 'paragraph', text: 'Line one\nLine two' },
      { kind: 'paragraph', text: 'Inner' },
      { kind: 'paragraph', text: 'tail' },
    ]);
  });

  it('skips scripts, styles, navigation, sidebars, page chrome, hidden elements and form controls', () => {
    const blocks = blocksOf(`
      <header><p>Site header</p></header>
      <nav><a>Menu</a></nav>
      <div role="navigation">Role nav</div>
      <div role="banner">Role banner</div>
      <script>var tracked = 1;</script><style>p { color: red }</style><noscript>Enable JS</noscript>
      <template><p>Template</p></template><svg><text>Chart</text></svg><iframe src="x">Frame</iframe>
      <main><article>
        <header><h1>Article title</h1></header>
        <p>Body text <button>Share</button><input value="q"><select><option>Opt</option></select></p>
        <p hidden>Hidden</p><p aria-hidden="true">Aria hidden</p><textarea>Typed</textarea>
        <footer><p>Article footnote</p></footer>
      </article></main>
      <aside><p>Sidebar ad</p></aside>
      <div role="complementary">Role aside</div><div role="contentinfo">Role footer</div>
      <footer><p>Site footer</p></footer>`);
    const { text } = renderBlocks(blocks);
    expect(text).toBe('Article title\n\nBody text\n\nArticle footnote');
  });

  it('reads an XHTML document parsed as XML, with HTML entities and self-closing tags', () => {
    const document = parseXhtmlDocument(
      '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head>' +
        '<body><h2>Caf&eacute;</h2><p>a<a id="x"/>&nbsp;b &amp;lt; c</p><p>next</p></body></html>',
    );
    expect(htmlToBlocks(document)).toEqual([
      { kind: 'heading', level: 2, text: 'Café' },
      { kind: 'paragraph', text: 'a b &lt; c' },
      { kind: 'paragraph', text: 'next' },
    ]);
  });

  it('reads an element as the root too', () => {
    const document = parseHtmlDocument(
      '<html><body><section id="s"><p>Inside</p></section><p>Outside</p></body></html>',
    );
    expect(htmlToBlocks(document.querySelector('#s')!)).toEqual([{ kind: 'paragraph', text: 'Inside' }]);
  });
});
