# Regenerates ruby_compound.jsonl from the MCollective 2.12 Ruby client's compound parser:
#
#   ruby -I/usr/lib/ruby/vendor_ruby testdata/ruby_compound.rb > testdata/ruby_compound.jsonl
#
# Each output line is {"in": input, "stack": [...]} or {"in": input, "error": true}. A Regexp
# r_compare is written as {"regexp": source}. The inputs are the hand-written cases below plus
# pseudo-random strings from a fixed seed.
require "mcollective"
require "json"

def conv(v)
  case v
  when Regexp then {"regexp" => v.source}
  when Hash then v.map { |k, x| [k, conv(x)] }.to_h
  when Array then v.map { |x| conv(x) }
  else v
  end
end

cases = [
  "", "a", "a ", " a", "  ", "a b", "a and b", "a or b", "not a", "!a", "!!a", "not not a",
  "a and not b", "a or !b", "(a)", "()", "(a and b", "a and b)", "a) and (b", "a) and b)",
  "((a or b) and c)", "a and (b or c) and not (d)", "not(a)", "a and(b)", "a or(b)",
  "and a", "or a", "a and", "a or", "a and or b", "a not b", "a (b)", "(a) b", "(and a)",
  "a=1", "a==1", "a!=1", "a<1", "a>1", "a<=1", "a>=1", "a=/x/", "a = b", "a =b", "a= b",
  "a = /x y/", "a=/b c/", "role=\"web server\"", "role='web'", "web::nginx", "/web/",
  "/we b/", "/web", "a/b", "a\tb", "a and\tb", "nota", "anda", "ora", "a and not",
  "été=1", "fact=été", "=//x", "=x", ">5", "a=", "a= ", "a =", "a=>b",
  "fstat(\"/etc/hosts\").size>=1", "fstat('/etc/hosts').size>=1", "puppet().enabled=true",
  "puppet().enabled=false", "f().x=1", "f().x=1.5", "f().x=-3", "f().x!=1", "f().x<1",
  "f().x>1", "f().x<=1", "f().x>=1", "f().x=/ab+/", "f().x!=/ab+/", "f().x>=/ab/",
  "f('a').x='b'", "f(\"a\").x=\"b c\"", "fstat(\"/x\")", "fstat(\"/x\")=1", "fstat(\"/x\").size",
  "f().x=1=2", "f('a=b').x=1", "f('a.b').x=1", "x.y().z=1", "x=y('a')", "puppet( ).x=1",
  "f('a', 'b').x=1", "f(\"a\", \"b\").x=1", "f(a).x=1", "f('a'", "f(", "f().x=", "f().x",
  "f().x=y=", "(a=1 or b) and not fstat(\"/etc/hosts\").size>=1", "a and fstat('/x').size=0",
  "not fstat('/x').size=0", "(fstat('/x').size=0)", "fstat('/x').size=0 and b",
  "a=\"x\\\"y\"", "/a\\/b/", "/a\\", "f().x=/a(/", "f().x=/(?=a)/", "a and /b/ or c=d",
  "a\nb", "f().x=/a/\n", "/a\n/", "a=\"x\ny\"", "f('a\nb').x=1", "f().x=/a\n/b/", "a=1\n",
]
rng = Random.new(20240611)
alphabet = ["a", "b", "=", "(", ")", " ", " ", "and ", "or ", "not ", "!", "/", "\"", "'",
            "f(", "'x'", ")", ".", "1", ">", "<", "~", "\\", "x.y", "f().v", "==", "!="]
2000.times do
  n = 1 + rng.rand(8)
  cases << Array.new(n) { alphabet[rng.rand(alphabet.size)] }.join
end

seen = {}
cases.each do |s|
  next if seen[s]
  seen[s] = true
  begin
    st = MCollective::Matcher.create_compound_callstack(s)
    puts JSON.generate({"in" => s, "stack" => conv(st)})
  rescue Exception
    puts JSON.generate({"in" => s, "error" => true})
  end
end
