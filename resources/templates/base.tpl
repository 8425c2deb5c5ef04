<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · {{site_name}}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header><span class="logo">mTLS Lab</span> <span class="site">{{site_name}}</span></header>
<main>
{{!base}}
</main>
<footer>Two factors: the certificate you own (checked in the TLS handshake) and the password you know.</footer>
</body>
</html>
