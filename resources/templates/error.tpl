% rebase('base.tpl', title=title, site_name=site_name)
<h1>{{title}}</h1>
<section class="factor bad">
  <h2>&#10007; {{status}}</h2>
  <p>{{explanation}}</p>
  <p><a href="/">Back to the start page</a></p>
</section>
